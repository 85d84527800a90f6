"""The finding kinds raised by discovery (CIMD documents, OAuth metadata, registries) and by the
protocol reports of the ingest path, for the rule catalogue (inventory/finding_rules.py appends
DISCOVERY_RULES to RULES).

These are raised by the code that fetches or ingests, not by a rule run: the severity here is the
highest the raiser uses (docs/findings.md says when it raises a lower one). An Admin's
overrides reach them where they are raised through raise_flag (a rule turned off raises nothing;
a chosen severity replaces the raiser's) and, for the ingest path's SQL, at the scheduled run
(governance/findings/event_rules.py). Each kind is one Rule, so the findings list can title every
finding and the docs name every kind.
"""

from __future__ import annotations

from inventory.finding_rules_types import Rule

_CLIENT, _SERVER = "inventory.client", "inventory.server"
_AUTHORIZATION_SERVER = "inventory.authorizationserver"
_CHECKED = "Resolved by a person who checked the change."
_NEXT_DOCUMENT = "A later version of the document no longer shows it (resolved by the fetch)."
_NEXT_DISCOVERY = "The next discovery of the server's metadata no longer finds it."

_CIMD_DRIFT = (
    Rule(
        kind="cimd.redirect_uri_changed",
        title="Client metadata drift: redirect URI removed",
        severity="warning",
        why="Redirect URIs were removed (none added): usually housekeeping, but a client whose "
        "redirects are rewritten may have changed hands.",
        clears=_CHECKED,
        runs="crawl",
        object_type=_CLIENT,
    ),
    Rule(
        kind="cimd.keys_changed",
        title="Client metadata drift: keys changed",
        severity="high",
        why="The client's jwks or jwks_uri changed: whoever holds the new keys can now "
        "authenticate as the client.",
        clears=_CHECKED,
        runs="crawl",
        object_type=_CLIENT,
    ),
    Rule(
        kind="cimd.auth_method_changed",
        title="Client metadata drift: authentication method changed",
        severity="high",
        why="token_endpoint_auth_method changed: how the client proves itself is different, "
        "possibly weaker (a downgrade to none or a shared secret).",
        clears=_CHECKED,
        runs="crawl",
        object_type=_CLIENT,
    ),
    Rule(
        kind="cimd.grant_types_changed",
        title="Client metadata drift: grant types changed",
        severity="high",
        why="The client now asks for other grant types (e.g. refresh tokens or client "
        "credentials): it can obtain longer-lived or user-less access.",
        clears=_CHECKED,
        runs="crawl",
        object_type=_CLIENT,
    ),
    Rule(
        kind="cimd.scope_changed",
        title="Client metadata drift: scope changed",
        severity="warning",
        why="The scope the client registers for changed: it may ask users for more than they "
        "agreed to before.",
        clears=_CHECKED,
        runs="crawl",
        object_type=_CLIENT,
    ),
)

_CIMD_STATE = (
    Rule(
        kind="cimd.fetch_failed",
        title="Client metadata document cannot be fetched",
        severity="high",
        why="Authorization servers cannot verify the client either, and a document that was "
        "fetched before and now fails may have been taken down or hijacked.",
        clears="The document is fetched again (resolved by that fetch).",
        runs="crawl",
        object_type=_CLIENT,
    ),
    Rule(
        kind="cimd.special_use_address",
        title="Client ID host resolves to a special-use address",
        severity="high",
        why="The client_id URL points at a private, loopback or otherwise special-use address: "
        "fetching it would reach inside the network (SSRF), so it is refused.",
        clears="The document is fetched again (resolved by that fetch).",
        runs="crawl",
        object_type=_CLIENT,
    ),
    Rule(
        kind="cimd.invalid_document",
        title="Client metadata document is invalid",
        severity="high",
        why="The document breaks the CIMD rules: servers must reject it, and a client_id "
        "mismatch, a client_secret or shared-secret authentication means it is unsafe.",
        clears=_NEXT_DOCUMENT,
        runs="crawl",
        object_type=_CLIENT,
    ),
    Rule(
        kind="cimd.localhost_only_redirects",
        title="Every redirect URI is on localhost",
        severity="warning",
        why="Any program on the user's machine can listen there: the client can be "
        "impersonated by whatever runs locally.",
        clears=_NEXT_DOCUMENT,
        runs="crawl",
        object_type=_CLIENT,
    ),
    Rule(
        kind="cimd.localhost_redirect",
        title="A redirect URI is on localhost",
        severity="warning",
        why="Codes sent to a localhost redirect go to whatever listens on that port of the "
        "user's machine.",
        clears=_NEXT_DOCUMENT,
        runs="crawl",
        object_type=_CLIENT,
    ),
    Rule(
        kind="cimd.secret_published",
        title="Client metadata document publishes a secret",
        severity="high",
        why="The document is public: anyone can read the secret in it and use it; it must be "
        "rotated, not only removed.",
        clears=_NEXT_DOCUMENT,
        runs="crawl",
        object_type=_CLIENT,
    ),
    Rule(
        kind="cimd.internal_uri",
        title="Client metadata points at an internal address",
        severity="warning",
        why="A URI in the document (redirect, logo, jwks...) names an internal or private "
        "host: it leaks internal names or sends tokens into the network.",
        clears=_NEXT_DOCUMENT,
        runs="crawl",
        object_type=_CLIENT,
    ),
)

_OAUTH = (
    Rule(
        kind="oauth.prm_resource_mismatch",
        title="Protected-resource metadata names another resource",
        severity="high",
        why="The PRM's resource is not the server's URL: RFC 9728 says such a document must "
        "not be used; it may send clients' tokens to someone else's authorization server.",
        clears=_NEXT_DISCOVERY,
        runs="crawl",
        object_type=_SERVER,
    ),
    Rule(
        kind="oauth.prm_unavailable",
        title="Server asks for a token but publishes no protected-resource metadata",
        severity="warning",
        why="The server answers 401 yet has no PRM: clients cannot discover where to get a "
        "token, so they are configured by hand (and may be pointed anywhere).",
        clears=_NEXT_DISCOVERY,
        runs="crawl",
        object_type=_SERVER,
    ),
    Rule(
        kind="oauth.prm_no_authorization_servers",
        title="Protected-resource metadata lists no authorization server",
        severity="warning",
        why="Clients cannot tell which authorization server guards the server: the console "
        "cannot either, so its grants go unaccounted for.",
        clears=_NEXT_DISCOVERY,
        runs="crawl",
        object_type=_SERVER,
    ),
    Rule(
        kind="oauth.omnibus_scopes",
        title="OAuth metadata offers wildcard or all-access scopes",
        severity="warning",
        why="Scopes like *, all or admin:* let one token do everything: least privilege "
        "cannot be granted.",
        clears=_NEXT_DISCOVERY,
        runs="crawl",
        object_type=_SERVER,
    ),
    Rule(
        kind="oauth.secret_in_metadata",
        title="OAuth metadata publishes a secret",
        severity="high",
        why="Public metadata is readable by anyone: the secret in it must be rotated.",
        clears=_NEXT_DISCOVERY,
        runs="crawl",
        object_type=_SERVER,
    ),
    Rule(
        kind="oauth.as_metadata_unavailable",
        title="Authorization-server metadata cannot be fetched",
        severity="warning",
        why="Clients cannot discover the endpoints or check PKCE support of the server "
        "guarding an MCP server, and the console cannot check it either.",
        clears="The next discovery fetches the metadata.",
        runs="crawl",
        object_type=_AUTHORIZATION_SERVER,
    ),
    Rule(
        kind="oauth.issuer_mismatch",
        title="Authorization-server metadata names another issuer",
        severity="high",
        why="The metadata's issuer is not the one it was discovered for: a mix-up attack, or "
        "tokens validated against the wrong issuer.",
        clears=_NEXT_DISCOVERY,
        runs="crawl",
        object_type=_AUTHORIZATION_SERVER,
    ),
    Rule(
        kind="oauth.no_pkce_s256",
        title="Authorization server does not advertise PKCE S256",
        severity="high",
        why="MCP clients must refuse to proceed without S256: authorization codes can be "
        "intercepted and used by another party.",
        clears=_NEXT_DISCOVERY,
        runs="crawl",
        object_type=_AUTHORIZATION_SERVER,
    ),
    Rule(
        kind="oauth.open_registration",
        title="Authorization server offers open dynamic client registration",
        severity="info",
        why="Anyone can register a client (RFC 7591): agents appear without review, so the "
        "client inventory depends on watching them.",
        clears=_NEXT_DISCOVERY,
        runs="crawl",
        object_type=_AUTHORIZATION_SERVER,
    ),
)

_REGISTRY = (
    Rule(
        kind="registry.risky_server_json",
        title="Registry entry with risky server.json",
        severity="high",
        why="A server version as published in a registry carries a literal secret, a "
        "non-https remote, an MCPB package without sha256, or a base URL not allowed: "
        "installing it as published is unsafe.",
        clears="Resolved by a person.",
        runs="crawl",
        object_type=_SERVER,
    ),
    Rule(
        kind="registry.status_changed",
        title="Registry status of a server version changed",
        severity="high",
        why="A version was deleted or deprecated by its publisher (or brought back): what "
        "agents run may be withdrawn, often for a security reason.",
        clears=_CHECKED,
        runs="crawl",
        object_type=_SERVER,
    ),
    Rule(
        kind="registry.repository_id_changed",
        title="Server's repository id changed",
        severity="high",
        why="The source repository was deleted and re-created under the same name: whoever "
        "owns the name now may not be the original publisher.",
        clears=_CHECKED,
        runs="crawl",
        object_type=_SERVER,
    ),
    Rule(
        kind="registry.latest_version_changed",
        title="Latest version of a server changed in its registry",
        severity="info",
        why="A new version is what installs now pick up: its tools and metadata are unreviewed.",
        clears=_CHECKED,
        runs="crawl",
        object_type=_SERVER,
    ),
)

_PROTOCOL = (
    Rule(
        kind="protocol.elicitation_not_https",
        title="URL elicitation to a non-https origin",
        severity="high",
        why="The server sent a user to a plain-http page: what they type there can be read or "
        "changed on the way.",
        clears="Resolved by a person.",
        runs="ingest",
        object_type=_SERVER,
    ),
    Rule(
        kind="protocol.elicitation_foreign_origin",
        title="URL elicitation to a foreign origin",
        severity="high",
        why="The server sent a user to an origin that is neither its own nor allowed for it: "
        "a phishing page asking for credentials looks like any other elicitation.",
        clears="Resolved by a person (or by allowing the origin for the server, for later ones).",
        runs="ingest",
        object_type=_SERVER,
    ),
    Rule(
        kind="protocol.elicitation_undeclared",
        title="URL elicitation with a client that did not declare it",
        severity="warning",
        why="The client never declared URL-mode elicitation: the server ignores the "
        "negotiated capabilities, and the client may show the URL without its safeguards.",
        clears="Resolved by a person.",
        runs="ingest",
        object_type=_SERVER,
    ),
    Rule(
        kind="protocol.sampling_with_tools",
        title="Server asked the client's model to sample with tools",
        severity="warning",
        why="The server drives the user's model and its tools: a malicious or compromised "
        "server can make the agent act.",
        clears="Resolved by a person.",
        runs="ingest",
        object_type=_SERVER,
    ),
    Rule(
        kind="protocol.sampling_undeclared",
        title="Sampling with a client that did not declare it",
        severity="high",
        why="The server sampled (or sampled with tools) although the client did not declare "
        "it: the negotiated capabilities were ignored.",
        clears="Resolved by a person.",
        runs="ingest",
        object_type=_SERVER,
    ),
    Rule(
        kind="protocol.old_revision",
        title="Session negotiated an MCP revision older than the minimum",
        severity="warning",
        why="An old protocol revision lacks the security fixes of later ones (authorization, "
        "elicitation and task rules).",
        clears="Resolved by a person.",
        runs="ingest",
        object_type=_SERVER,
    ),
    Rule(
        kind="protocol.server_version_unlisted",
        title="Server reports a version its registry does not list",
        severity="warning",
        why="What runs is not a published version: a fork, a local build or a tampered "
        "package nobody vetted.",
        clears="Resolved by a person.",
        runs="ingest",
        object_type=_SERVER,
    ),
)

DISCOVERY_RULES: tuple[Rule, ...] = _CIMD_DRIFT + _CIMD_STATE + _OAUTH + _REGISTRY + _PROTOCOL
