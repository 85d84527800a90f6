"""The protocol flags (issue 15 §2), raised from a batch's protocol reports (derive_protocol.py).

Kinds (docs/events.md "Protocol features"):
- `protocol.elicitation_not_https`: a URL elicitation to an origin that is not https;
- `protocol.elicitation_foreign_origin`: to an origin that is neither one of the server's own
  (its remote URLs) nor one an Admin allowed for it (ElicitationOriginAllowance);
- `protocol.elicitation_undeclared`: to a client whose declared capabilities lack
  `elicitation.url` (only judged once the client's declaration has been seen);
- `protocol.sampling_with_tools`: a server asked the client's model to sample with tools;
- `protocol.sampling_undeclared`: a server sampled although the client did not declare
  `sampling` (or `sampling.tools` for a request with tools);
- `protocol.old_revision`: a session negotiated a revision older than the Admin-set minimum
  (SiteSetting `protocol.minimum_revision`);
- `protocol.server_version_unlisted`: a server's `serverInfo.version` is none of the versions
  its registry lists.
Flags are on the server (dedup key: the origin, client, revision or version), so a busy stream
refreshes one open flag instead of piling them up.
"""

from __future__ import annotations

from governance.access.models import SiteSetting
from inventory.models import (
    MINIMUM_REVISION_SETTING,
    ElicitationOriginAllowance,
    Flag,
    ServerRemote,
    ServerVersion,
)
from inventory.remote_urls import url_origin
from inventory.services.flags import raise_flag

CLIENT_DECLARATIONS_SQL = """
SELECT peer_ref, sampling, sampling_tools, elicitation_url FROM inventory_protocolprofile
WHERE role = 'client' AND peer_ref = ANY(%s)
"""


def _server_flag(server_id, kind, summary, *, dedup_key="", severity=Flag.Severity.WARNING, **kw):
    raise_flag(
        kind=kind,
        object_type="inventory.server",
        object_id=str(server_id),
        summary=summary[:500],
        dedup_key=dedup_key[:300],
        severity=severity,
        **kw,
    )


def _declarations(cursor, refs) -> dict:
    refs = sorted({ref for ref in refs if ref})
    if not refs:
        return {}
    cursor.execute(CLIENT_DECLARATIONS_SQL, [refs])
    return {row[0]: row[1:] for row in cursor.fetchall()}


def raise_for_batch(cursor, *, sessions, elicitations, sampling, servers, ids) -> None:
    """Raise the flags the batch's sessions, elicitations, sampling and serverInfo call for."""
    declared = _declarations(
        cursor, [r["client_ref"] for _, r in elicitations] + [r["client_ref"] for r in sampling]
    )
    if sessions:
        _old_revisions(sessions)
    if elicitations:
        _elicitation_flags(elicitations, declared)
    for r in sampling:
        _sampling_flags(r, ids["server"].get(r["server_name"]), declared)
    if servers:
        _unlisted_versions(servers, ids)


def _old_revisions(sessions) -> None:
    minimum = SiteSetting.objects.filter(key=MINIMUM_REVISION_SETTING).first()
    minimum = minimum.value if minimum and isinstance(minimum.value, str) else ""
    if not minimum:
        return
    for _, server_id, key, negotiated in sessions:
        if negotiated and negotiated < minimum and server_id:  # revisions are dates
            _server_flag(
                server_id,
                "protocol.old_revision",
                f"Session {key[:100]} negotiated MCP {negotiated}, older than the minimum "
                f"{minimum}",
                dedup_key=negotiated,
                details={"session": key, "negotiated": negotiated, "minimum": minimum},
            )


def _own_origins(server_ids) -> dict[int, set]:
    """Each server's own origins (its remotes) and the origins an Admin allowed for it."""
    origins: dict[int, set] = {sid: set() for sid in server_ids}
    for sid, url in ServerRemote.objects.filter(server_id__in=server_ids).values_list(
        "server_id", "url"
    ):
        origins[sid].add(url_origin(url)[0])
    for sid, origin in ElicitationOriginAllowance.objects.filter(
        server_id__in=server_ids
    ).values_list("server_id", "origin"):
        origins[sid].add(origin)
    return origins


def _elicitation_flags(elicitations, declared: dict) -> None:
    own = _own_origins({row[3] for row, _ in elicitations if row[3]})
    for row, r in elicitations:
        _, server_name, key, server_id, _, origin = row
        if not server_id:
            continue
        details = {"elicitation": key, "origin": origin, "event_id": r["event_id"]}
        if not origin.startswith("https://"):
            _server_flag(
                server_id,
                "protocol.elicitation_not_https",
                f"{server_name} sent a user to {origin} (not https) by URL elicitation",
                dedup_key=origin,
                severity=Flag.Severity.HIGH,
                details=details,
            )
        if origin not in own.get(server_id, ()):
            _server_flag(
                server_id,
                "protocol.elicitation_foreign_origin",
                f"{server_name} sent a user to {origin}, not its own origin nor one allowed",
                dedup_key=origin,
                severity=Flag.Severity.HIGH,
                details=details,
            )
        flags = declared.get(r["client_ref"])
        if flags is not None and not flags[2]:
            _server_flag(
                server_id,
                "protocol.elicitation_undeclared",
                f"{server_name} used URL elicitation with {r['client_ref'][:200]}, which never "
                "declared URL mode",
                dedup_key=r["client_ref"],
                details=details,
            )


def _sampling_flags(r: dict, server_id, declared: dict) -> None:
    if not server_id:
        return
    name, details = r["server_name"], {"event_id": r["event_id"], "tools": r["tools"][:20]}
    if r["tool_count"]:
        _server_flag(
            server_id,
            "protocol.sampling_with_tools",
            f"{name} asked the client's model to sample with {r['tool_count']} tools",
            details=details,
        )
    flags = declared.get(r["client_ref"])
    # Judged once the client's declaration has been seen (as for URL elicitation).
    if flags is not None and (not flags[0] or (r["tool_count"] and not flags[1])):
        what = "sampling.tools" if flags[0] else "sampling"
        _server_flag(
            server_id,
            "protocol.sampling_undeclared",
            f"{name} sampled with {r['client_ref'][:200]}, which did not declare {what}",
            dedup_key=r["client_ref"],
            severity=Flag.Severity.HIGH,
            details=details,
        )


def _unlisted_versions(reports, ids) -> None:
    seen = {}
    for r in reports:
        server_id = ids["server"].get(r["server_name"])
        if server_id and r["info"]["version"]:
            seen[server_id] = (r["info"]["version"], r)
    if not seen:
        return
    listed: dict[int, set] = {}
    for sid, version in ServerVersion.objects.filter(server_id__in=seen).values_list(
        "server_id", "version"
    ):
        listed.setdefault(sid, set()).add(version)
    for server_id, (version, r) in seen.items():
        if server_id in listed and version not in listed[server_id]:
            _server_flag(
                server_id,
                "protocol.server_version_unlisted",
                f"{r['server_name']} reports version {version[:100]}, which its registry does "
                "not list",
                dedup_key=version,
                details={"version": version, "listed": sorted(listed[server_id])[:20]},
            )
