"""OAuth metadata drift (rule `server.oauth_metadata_changed`): a server's protected-resource
metadata, or the metadata of an authorization server guarding it, changed a field that decides
where tokens go or what they allow. Judged as discovery stores a newly fetched document, against
the one it replaces (only when both were fetched: an outage is `oauth.*_unavailable`, not
drift). The finding's evidence is each changed field before and after; a person resolves it.
"""

from __future__ import annotations

import hashlib
import json

from inventory.finding_rules import RULES_BY_KIND
from inventory.models import AuthorizationServer, Finding
from inventory.queries import servers_guarded_by
from inventory.services.flags import raise_flag

KIND = "server.oauth_metadata_changed"
# RFC 9728 members that decide which authorization servers a client trusts and what it asks.
PRM_FIELDS = ("resource", "authorization_servers", "scopes_supported", "bearer_methods_supported")
# The RFC 8414 endpoints an authorization server's row keeps (oauth_metadata stores them).
ENDPOINT_FIELDS = (
    "authorization_endpoint",
    "token_endpoint",
    "registration_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "jwks_uri",
)
# RFC 8414 members that decide where credentials and codes are sent and how.
AS_FIELDS = (
    "issuer",
    *ENDPOINT_FIELDS,
    "scopes_supported",
    "grant_types_supported",
    "code_challenge_methods_supported",
)


def _comparable(value):
    # A list served in another order says the same thing.
    if isinstance(value, list):
        return sorted(json.dumps(v, sort_keys=True) for v in value)
    return value


def changed_fields(before: dict, after: dict, fields) -> dict:
    """{field: {"before", "after"}} for the relevant fields that differ."""
    before, after = before or {}, after or {}
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in fields
        if _comparable(before.get(name)) != _comparable(after.get(name))
    }


def _dedup(document: str, pk: int, changes: dict) -> str:
    # One finding per distinct change: the same drift seen again refreshes it.
    after = json.dumps({k: v["after"] for k, v in changes.items()}, sort_keys=True, default=str)
    return f"{document}:{pk}:{hashlib.sha256(after.encode()).hexdigest()[:16]}"


def _raise(servers, *, summary: str, details: dict, dedup_key: str) -> list[Finding]:
    """One finding per server; raise_flag applies the Admin's settings (off: nothing raised)."""
    raised = (
        raise_flag(
            kind=KIND,
            obj=server,
            severity=RULES_BY_KIND[KIND].severity,
            summary=summary.replace("{server}", server.name)[:500],
            details=details,
            dedup_key=dedup_key,
        )
        for server in servers
    )
    return [finding for finding in raised if finding is not None]


def prm_drift(remote, before: dict | None, after: dict | None, *, prm_url: str) -> list[Finding]:
    """A remote's PRM changed (both documents fetched): a finding on its server."""
    if before is None or after is None:
        return []
    changes = changed_fields(before, after, PRM_FIELDS)
    if not changes:
        return []
    return _raise(
        [remote.server],
        summary="Protected resource metadata of {server} changed: " + ", ".join(changes),
        details={
            "document": "protected_resource",
            "remote": remote.url,
            "prm_url": prm_url,
            "changed": changes,
        },
        dedup_key=_dedup("prm", remote.pk, changes),
    )


def authorization_server_drift(
    server: AuthorizationServer, before: dict | None, after: dict | None
) -> list[Finding]:
    """An authorization server's metadata changed: a finding on each server it guards."""
    if before is None or after is None:
        return []
    changes = changed_fields(before, after, AS_FIELDS)
    if not changes:
        return []
    guarded = servers_guarded_by(server)
    return _raise(
        guarded,
        summary=f"Authorization server {server.issuer} guarding {{server}} changed its metadata: "
        + ", ".join(changes),
        details={
            "document": "authorization_server",
            "issuer": server.issuer,
            "authorization_server_id": server.pk,
            "metadata_url": server.metadata_url,
            "changed": changes,
        },
        dedup_key=_dedup("as", server.pk, changes),
    )
