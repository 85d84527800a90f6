"""What each kind of IdP connection needs: its config fields (labels, help), its credential,
the issuer it usually answers for, and the least-privileged permissions for read-only sync and
for revocation (docs/idp.md says the same, with where to set them at the IdP).

`validate_config(kind, config)` is the one check of a connection's config: the console form,
the API and `manage.py add_idp` all go through the services that call it. Every kind also takes
optional `*_url` overrides (so tests can point a connector at 127.0.0.1) and `timeout_seconds`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from governance.connectors import assertion


@dataclass(frozen=True)
class Field:
    """One non-secret config key of a kind."""

    name: str
    label: str
    help: str = ""
    required: bool = True
    url: bool = False  # a full http(s) URL rather than a host name or an id


@dataclass(frozen=True)
class Kind:
    """One kind of connection, as the forms, the command and the docs describe it."""

    name: str
    label: str
    fields: tuple[Field, ...]
    secret_label: str
    secret_help: str
    sync_permissions: tuple[str, ...]
    revoke_permissions: tuple[str, ...]
    multiline_secret: bool = False

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


# Keys every kind accepts beside its own fields.
COMMON_OPTIONAL = (
    Field("timeout_seconds", "Timeout (seconds)", "Per call; default 20.", required=False),
    # Revocations pace their calls per connection under the IdP's rate limit (containment).
    Field(
        "revoke_rate_per_second",
        "Revocation calls per second",
        "At most this many revoke calls a second (default 10).",
        required=False,
    ),
)

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "okta",
            "Okta",
            (
                Field("domain", "Okta domain", "Your org's domain, e.g. acme.okta.com."),
                Field("client_id", "Client ID", "The API Services app's client ID."),
                Field(
                    "key_id",
                    "Key ID (kid)",
                    "The kid of the app's public key, when it has several.",
                    required=False,
                ),
                Field(
                    "base_url",
                    "Base URL override",
                    "Only for tests: call this URL instead of https://<domain>.",
                    required=False,
                    url=True,
                ),
            ),
            "Private key (PEM)",
            "The API Services app's private key for private_key_jwt; shown never again.",
            sync_permissions=(
                "okta.users.read",
                "okta.apps.read",
                "okta.appGrants.read",
                "okta.authorizationServers.read",
            ),
            revoke_permissions=(
                "okta.users.manage",
                "okta.apps.manage",
                "okta.appGrants.manage",
            ),
            multiline_secret=True,
        ),
        Kind(
            "entra",
            "Microsoft Entra ID",
            (
                Field("tenant_id", "Tenant ID", "The directory (tenant) ID, a GUID."),
                Field("client_id", "Application (client) ID", "The app registration's ID."),
                Field(
                    "certificate_thumbprint",
                    "Certificate thumbprint",
                    "With a certificate credential: the certificate's SHA-1 thumbprint as "
                    "Entra shows it (40 hex digits). Leave blank with a client secret.",
                    required=False,
                ),
                Field(
                    "graph_url",
                    "Graph URL override",
                    "Only for tests; default https://graph.microsoft.com/v1.0.",
                    required=False,
                    url=True,
                ),
                Field(
                    "login_url",
                    "Login URL override",
                    "Only for tests; default https://login.microsoftonline.com.",
                    required=False,
                    url=True,
                ),
            ),
            "Certificate private key (PEM) or client secret",
            "Recommended: the private key (PEM, RSA) of a certificate uploaded to the app "
            "registration, with its thumbprint above; else a client secret. Shown never again.",
            sync_permissions=("Application.Read.All", "Directory.Read.All"),
            revoke_permissions=(
                "DelegatedPermissionGrant.ReadWrite.All",
                "AppRoleAssignment.ReadWrite.All",
                "User.RevokeSessions.All",
            ),
            multiline_secret=True,
        ),
        Kind(
            "keycloak",
            "Keycloak",
            (
                Field(
                    "base_url",
                    "Base URL",
                    "Keycloak's root, e.g. https://sso.example.com (no /realms).",
                    url=True,
                ),
                Field("realm", "Realm", "The realm whose users and clients are read."),
                Field("client_id", "Client ID", "A confidential client with a service account."),
            ),
            "Client secret",
            "The service-account client's secret; shown never again.",
            sync_permissions=("view-users", "view-clients", "query-users", "query-clients"),
            revoke_permissions=("manage-users", "manage-clients"),
        ),
        Kind(
            "auth0",
            "Auth0",
            (
                Field("domain", "Tenant domain", "e.g. acme.us.auth0.com."),
                Field("client_id", "Client ID", "The Machine-to-Machine application's ID."),
                Field(
                    "base_url",
                    "Base URL override",
                    "Only for tests: call this URL instead of https://<domain>.",
                    required=False,
                    url=True,
                ),
            ),
            "Client secret",
            "The M2M application's secret (Management API); shown never again.",
            sync_permissions=(
                "read:users",
                "read:clients",
                "read:grants",
                "read:client_grants",
                "read:refresh_tokens",
            ),
            revoke_permissions=(
                "delete:grants",
                "delete:refresh_tokens",
                "delete:client_grants",
                "update:clients",
            ),
        ),
        Kind(
            "google",
            "Google Workspace",
            (
                Field(
                    "admin_email",
                    "Admin to impersonate",
                    "A super-admin the service account acts as (domain-wide delegation).",
                ),
                Field(
                    "customer",
                    "Customer",
                    "The Workspace customer ID; default my_customer.",
                    required=False,
                ),
                Field(
                    "token_url",
                    "Token URL override",
                    "Only for tests; default https://oauth2.googleapis.com/token.",
                    required=False,
                    url=True,
                ),
                Field(
                    "directory_url",
                    "Directory URL override",
                    "Only for tests; default https://admin.googleapis.com.",
                    required=False,
                    url=True,
                ),
            ),
            "Service-account key (JSON)",
            "The service account's JSON key file, pasted whole; shown never again.",
            sync_permissions=(
                "https://www.googleapis.com/auth/admin.directory.user.readonly",
                "https://www.googleapis.com/auth/admin.directory.user.security",
            ),
            revoke_permissions=("https://www.googleapis.com/auth/admin.directory.user.security",),
            multiline_secret=True,
        ),
        Kind(
            "oauth",
            "OAuth 2.0 / OIDC authorization server",
            (
                Field(
                    "issuer",
                    "Issuer",
                    "The AS's issuer URL; its metadata is discovered from it.",
                    url=True,
                ),
                Field(
                    "client_id",
                    "Client ID",
                    "The console's own client (introspection and revocation).",
                ),
                Field(
                    "grants_url",
                    "Grants URL",
                    "An admin route listing grants, if the AS has one (no standard).",
                    required=False,
                    url=True,
                ),
            ),
            "Client secret",
            "The console client's secret; shown never again.",
            sync_permissions=("introspection (RFC 7662) for the console's client",),
            revoke_permissions=("revocation (RFC 7009) for the console's client",),
        ),
    )
}


def kind_of(name: str) -> Kind:
    """The Kind called `name`; ValidationError naming the known kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValidationError(
            {"kind": f"Unknown kind {name!r}: use one of {', '.join(KINDS)}."}
        ) from None


def validate_config(kind_name: str, config: dict) -> dict:
    """The config cleaned (strings stripped, empty optional keys dropped), or a ValidationError
    whose messages name each field that is wrong."""
    kind = kind_of(kind_name)
    if not isinstance(config, dict):
        raise ValidationError({"config": "The config must be a set of key=value settings."})
    errors, cleaned = {}, {}
    for key, value in config.items():
        field = kind.field(key) or _common_field(key)
        text = "" if value is None else str(value).strip()
        if field is None:
            errors[key] = (
                f"{key!r} is not a setting of a {kind.label} connection "
                f"(it takes {', '.join(f.name for f in kind.fields)})."
            )
        elif text:
            problem = _problem(field, text)
            if problem:
                errors[key] = f"{field.label} ({key}): {problem}"
            else:
                cleaned[key] = text.rstrip("/") if field.url else text
    for field in kind.fields:
        if field.required and field.name not in cleaned and field.name not in errors:
            errors[field.name] = f"{field.label} ({field.name}) is required."
    if errors:
        raise ValidationError(errors)
    return cleaned


def _common_field(key: str) -> Field | None:
    if key.endswith("_url"):  # any endpoint override a connector documents
        return Field(key, key, required=False, url=True)
    return next((f for f in COMMON_OPTIONAL if f.name == key), None)


def _problem(field: Field, text: str) -> str:
    if field.url:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"{text[:80]!r} is not an http(s) URL."
        return ""
    if field.name == "domain" and ("/" in text or " " in text):
        return "give the host name only, e.g. acme.okta.com (no https:// and no path)."
    if field.name == "timeout_seconds":
        try:
            if not 0 < float(text) <= 300:
                raise ValueError
        except ValueError:
            return "a number of seconds between 0 and 300."
    if field.name == "revoke_rate_per_second":
        try:
            if not 0 < float(text) <= 1000:
                raise ValueError
        except ValueError:
            return "a number of calls per second between 0 and 1000."
    if field.name == "admin_email" and "@" not in text:
        return "an email address, e.g. admin@example.com."
    if field.name == "certificate_thumbprint":
        try:
            assertion.x5t(text)
        except assertion.InvalidKey:
            return "the certificate's SHA-1 thumbprint, 40 hex digits (as Entra shows it)."
    return ""


def validate_secret(kind_name: str, secret: str, *, config: dict | None = None) -> str:
    """The credential stripped of surrounding blanks, or a ValidationError on `secret` that
    says what is wrong with it without repeating it. With the connection's (cleaned) `config`,
    a credential that needs a setting is checked against it too (Entra's certificate needs
    its thumbprint)."""
    kind = kind_of(kind_name)
    secret = (secret or "").strip()
    if not secret:
        raise ValidationError({"secret": f"{kind.secret_label} is required."})
    if kind.name == "okta":
        if "PRIVATE KEY-----" not in secret:
            raise ValidationError(
                {
                    "secret": "The Okta credential is a PEM private key "
                    "(-----BEGIN PRIVATE KEY-----)."
                }
            )
        secret = _pem_lines(secret)
    if kind.name == "entra" and "PRIVATE KEY-----" in secret:
        secret = _entra_certificate_key(_pem_lines(secret), config)
    if kind.name == "google":
        try:
            key = json.loads(secret)
        except ValueError:
            key = None
        if not isinstance(key, dict) or not {"client_email", "private_key"} <= key.keys():
            raise ValidationError(
                {
                    "secret": "The Google credential is the service account's JSON key "
                    "(with client_email and private_key)."
                }
            )
    return secret


def _entra_certificate_key(pem: str, config: dict | None) -> str:
    """An Entra certificate credential: an RSA key (Entra signs RS256 only), and, when the
    config is known, the certificate_thumbprint that names its certificate to Entra."""
    try:
        assertion.load_rsa_private_key(pem)
    except assertion.InvalidKey:
        raise ValidationError(
            {"secret": "The Entra certificate credential is an unencrypted RSA private key (PEM)."}
        ) from None
    if config is not None and not config.get("certificate_thumbprint"):
        raise ValidationError(
            {
                "certificate_thumbprint": "Certificate thumbprint (certificate_thumbprint) is "
                "required with a certificate's private key: the SHA-1 thumbprint Entra shows "
                "for the uploaded certificate."
            }
        )
    return pem


def _pem_lines(pem: str) -> str:
    """A PEM block with its line breaks back: a password input drops them when it is pasted."""
    match = re.fullmatch(r"(-----BEGIN [A-Z ]+-----)\s*(.+?)\s*(-----END [A-Z ]+-----)", pem, re.S)
    if not match:
        return pem
    body = "".join(match.group(2).split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([match.group(1), *lines, match.group(3)])


def default_issuer(kind_name: str, config: dict) -> str:
    """The issuer a connection of this kind usually answers for, from its config ("" if none)."""
    if kind_name == "okta" and config.get("domain"):
        return f"https://{config['domain']}"
    if kind_name == "entra" and config.get("tenant_id"):
        return f"https://login.microsoftonline.com/{config['tenant_id']}/v2.0"
    if kind_name == "keycloak" and config.get("base_url") and config.get("realm"):
        return f"{config['base_url']}/realms/{config['realm']}"
    if kind_name == "auth0" and config.get("domain"):
        return f"https://{config['domain']}/"
    if kind_name == "google":
        return "https://accounts.google.com"
    if kind_name == "oauth":
        return config.get("issuer", "")
    return ""
