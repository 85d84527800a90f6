"""Protocol features from a batch's protocol reports (audit/services/protocol_extract.py).

Called by the ingest inside its transaction, after the batch's events and the derived clients,
servers and identities are stored, with the reports of the events that were new. Set-based:
one statement per table (sessions, profiles and their history, URL elicitations, sampling
requests), rows in key order so concurrent batches lock in the same order. Few events carry
reports (an initialize per session), so the flags (protocol_flags.py) are raised per report.
"""

from __future__ import annotations

from collections import defaultdict

import orjson

from inventory.services import protocol_flags
from inventory.services.derive_tasks import _lookups

SESSION_SQL = """
INSERT INTO inventory_protocolsession AS p (server_name, session_key, server_id, client_id,
    identity_id, offered_version, negotiated_version, first_seen, last_seen)
SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[],
                     %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[])
ORDER BY 1, 2
ON CONFLICT ON CONSTRAINT protocol_session_key DO UPDATE SET
    server_id = coalesce(p.server_id, EXCLUDED.server_id),
    client_id = coalesce(p.client_id, EXCLUDED.client_id),
    identity_id = coalesce(p.identity_id, EXCLUDED.identity_id),
    offered_version = coalesce(nullif(p.offered_version, ''), EXCLUDED.offered_version),
    negotiated_version = coalesce(nullif(EXCLUDED.negotiated_version, ''), p.negotiated_version),
    first_seen = LEAST(p.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(p.last_seen, EXCLUDED.last_seen)
RETURNING id, server_id, session_key, negotiated_version
"""

LOCK_PROFILES_SQL = """
SELECT role, peer_ref, content_hash, last_seen FROM inventory_protocolprofile
WHERE (role, peer_ref) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
ORDER BY role, peer_ref FOR UPDATE
"""

_DECLARED = (
    "capabilities", "capabilities_invalid", "extensions", "extensions_dropped", "info_name",
    "info_version", "info_title", "info_website", "protocol_version", "sampling",
    "sampling_tools", "elicitation_url", "content_hash", "changed_at",
)  # fmt: skip
# A declaration replaces the stored one only when it is not older (events arrive out of order).
# unnest cannot take a ragged text[][] (the extensions), so they travel as JSON arrays.
PROFILE_SQL = (
    """
INSERT INTO inventory_protocolprofile AS p (role, peer_ref, client_id, server_id, capabilities,
    capabilities_invalid, extensions, extensions_dropped, info_name, info_version, info_title,
    info_website, protocol_version, sampling, sampling_tools, elicitation_url, content_hash,
    first_seen, last_seen, changed_at)
SELECT v.role, v.ref, v.cl, v.sv, v.caps, v.inv, ARRAY(SELECT jsonb_array_elements_text(v.ext)),
       v.dropped, v.n, v.ver, v.t, v.w, v.pv, v.s, v.st, v.eu, v.h, v.f, v.l, v.c
FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::jsonb[], %s::boolean[],
            %s::jsonb[], %s::integer[], %s::text[], %s::text[], %s::text[], %s::text[],
            %s::text[], %s::boolean[], %s::boolean[], %s::boolean[], %s::text[],
            %s::timestamptz[], %s::timestamptz[], %s::timestamptz[])
     AS v(role, ref, cl, sv, caps, inv, ext, dropped, n, ver, t, w, pv, s, st, eu, h, f, l, c)
ORDER BY 1, 2
ON CONFLICT ON CONSTRAINT protocol_profile_key DO UPDATE SET
    client_id = coalesce(EXCLUDED.client_id, p.client_id),
    server_id = coalesce(EXCLUDED.server_id, p.server_id),
"""
    + "".join(
        f"    {c} = CASE WHEN EXCLUDED.last_seen >= p.last_seen AND EXCLUDED.content_hash <> "
        f"p.content_hash THEN EXCLUDED.{c} ELSE p.{c} END,\n"
        for c in _DECLARED
    )
    + """    first_seen = LEAST(p.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(p.last_seen, EXCLUDED.last_seen)
"""
)

HISTORY_SQL = """
INSERT INTO inventory_protocolprofilechange (profile_id, at, capabilities, extensions, info_name,
    info_version, info_title, info_website, protocol_version, content_hash, event_ref)
SELECT p.id, v.at, v.caps, ARRAY(SELECT jsonb_array_elements_text(v.ext)), v.n, v.ver, v.t, v.w,
       v.pv, v.h, v.ev
FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::jsonb[], %s::jsonb[], %s::text[],
            %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
     AS v(r, ref, at, caps, ext, n, ver, t, w, pv, h, ev)
JOIN inventory_protocolprofile p ON p.role = v.r AND p.peer_ref = v.ref
"""

ELICITATION_SQL = """
INSERT INTO inventory_urlelicitation AS u (server_name, elicitation_key, elicitation_id,
    server_id, client_id, identity_id, session_id, origin, url_had_credentials, url_redacted,
    via_error, action, requested_at, completed_at, event_ref, first_seen, last_seen)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[],
    %s::bigint[], %s::text[], %s::text[], %s::boolean[], %s::boolean[], %s::boolean[],
    %s::text[], %s::timestamptz[], %s::timestamptz[], %s::text[], %s::timestamptz[],
    %s::timestamptz[])
ORDER BY 1, 2
ON CONFLICT ON CONSTRAINT url_elicitation_key DO UPDATE SET
    server_id = coalesce(u.server_id, EXCLUDED.server_id),
    client_id = coalesce(u.client_id, EXCLUDED.client_id),
    identity_id = coalesce(u.identity_id, EXCLUDED.identity_id),
    session_id = coalesce(nullif(u.session_id, ''), EXCLUDED.session_id),
    origin = coalesce(nullif(u.origin, ''), EXCLUDED.origin),
    url_had_credentials = u.url_had_credentials OR EXCLUDED.url_had_credentials,
    url_redacted = u.url_redacted OR EXCLUDED.url_redacted,
    via_error = u.via_error OR EXCLUDED.via_error,
    action = coalesce(nullif(EXCLUDED.action, ''), u.action),
    requested_at = LEAST(u.requested_at, EXCLUDED.requested_at),
    completed_at = LEAST(u.completed_at, EXCLUDED.completed_at),
    event_ref = coalesce(nullif(u.event_ref, ''), EXCLUDED.event_ref),
    first_seen = LEAST(u.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(u.last_seen, EXCLUDED.last_seen)
RETURNING id, server_name, elicitation_key, server_id, client_id, origin
"""

SAMPLING_SQL = """
INSERT INTO inventory_samplingrequest (server_name, server_id, client_id, identity_id, session_id,
    tool_names, tool_count, tool_choice, at, event_ref)
SELECT v.sn, v.sv, v.cl, v.idn, v.sid, ARRAY(SELECT jsonb_array_elements_text(v.tools)), v.n,
       v.choice, v.at, v.ev
FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::jsonb[],
            %s::integer[], %s::text[], %s::timestamptz[], %s::text[])
     AS v(sn, sv, cl, idn, sid, tools, n, choice, at, ev)
"""


def _json(value) -> str:
    return orjson.dumps(value).decode()


def _columns(rows: list[tuple]) -> list[list]:
    return [list(col) for col in zip(*rows)]


def apply_protocol_reports(cursor, reports: list[dict]) -> None:
    """Record what these protocol reports say, and raise the protocol flags they call for."""
    if not reports:
        return
    ids = _lookups(cursor, reports)
    reports = sorted(reports, key=lambda r: (r["time"], r["ordinal"]))
    by_kind = defaultdict(list)
    for report in reports:
        by_kind[report["kind"]].append(report)
    sessions = _sessions(cursor, by_kind["session"], ids)
    _profiles(cursor, by_kind["peer"], ids)
    elicitations = _elicitations(cursor, by_kind["elicitation"], ids)
    _sampling(cursor, by_kind["sampling"], ids)
    protocol_flags.raise_for_batch(
        cursor,
        sessions=sessions,
        elicitations=elicitations,
        sampling=by_kind["sampling"],
        servers=[r for r in by_kind["peer"] if r["role"] == "server"],
        ids=ids,
    )


def _refs(r: dict, ids: dict) -> tuple:
    return (
        ids["server"].get(r["server_name"]),
        ids["client"].get(r["client_ref"]),
        ids["identity"].get((r["actor_issuer"], r["actor_subject"])),
    )


def _sessions(cursor, reports: list[dict], ids: dict) -> list[tuple]:
    """Upsert the sessions; returns (id, server id, key, negotiated version) of each."""
    merged: dict[tuple, list] = {}
    for r in reports:
        key = r["session_id"] or (
            f"event:{r['event_id']}" if r["method"] == "server/discover" else ""
        )
        if not key:
            continue  # 2026-07-28 has no sessions: the revision is on the peers' profiles
        row = merged.get((r["server_name"], key))
        if row is None:
            merged[(r["server_name"], key)] = [
                r["server_name"], key, *_refs(r, ids), r["offered"], r["negotiated"], r["time"],
                r["time"],
            ]  # fmt: skip
        else:
            row[5] = row[5] or r["offered"]
            row[6] = r["negotiated"] or row[6]
            row[8] = r["time"]
    if not merged:
        return []
    cursor.execute(SESSION_SQL, _columns(list(merged.values())))
    return cursor.fetchall()


def _profiles(cursor, reports: list[dict], ids: dict) -> None:
    """Upsert each peer's latest declaration; a history row for each one that differs from the
    declaration before it (the stored one, then the batch's earlier ones)."""
    per_peer: dict[tuple, list[dict]] = defaultdict(list)
    for r in reports:
        ref = r["client_ref"] if r["role"] == "client" else r["server_name"]
        if ref:
            per_peer[(r["role"], ref)].append(r)
    if not per_peer:
        return
    keys = sorted(per_peer)
    cursor.execute(LOCK_PROFILES_SQL, [[k[0] for k in keys], [k[1] for k in keys]])
    stored = {(row[0], row[1]): (row[2], row[3]) for row in cursor.fetchall()}
    rows, history = [], []
    for key in keys:
        previous, last_seen = stored.get(key, ("", None))
        first = per_peer[key][0]
        latest = per_peer[key][-1]
        changed_at = first["time"]
        for r in per_peer[key]:
            if r["hash"] != previous and (last_seen is None or r["time"] >= last_seen):
                history.append(_history_row(key, r))
                previous, changed_at = r["hash"], r["time"]
        server_id = ids["server"].get(latest["server_name"]) if key[0] == "server" else None
        client_id = ids["client"].get(latest["client_ref"]) if key[0] == "client" else None
        info = latest["info"]
        rows.append(
            (
                *key, client_id, server_id, _json(latest["capabilities"]),
                latest["capabilities_invalid"], _json(latest["extensions"]),
                latest["extensions_dropped"], info["name"], info["version"], info["title"],
                info["websiteUrl"], latest["revision"], latest["sampling"],
                latest["sampling_tools"], latest["elicitation_url"], latest["hash"],
                first["time"], latest["time"], changed_at,
            )
        )  # fmt: skip
    cursor.execute(PROFILE_SQL, _columns(rows))
    if history:
        cursor.execute(HISTORY_SQL, _columns(history))


def _history_row(key: tuple, r: dict) -> tuple:
    info = r["info"]
    return (
        *key, r["time"], _json(r["capabilities"]), _json(r["extensions"]), info["name"],
        info["version"], info["title"], info["websiteUrl"], r["revision"], r["hash"],
        r["event_id"],
    )  # fmt: skip


def _elicitations(cursor, reports: list[dict], ids: dict) -> list[tuple]:
    """Upsert the URL elicitations (a request, its -32042 error and completion merge into one
    row per server and elicitation id); returns the stored rows with the report behind each."""
    merged: dict[tuple, list] = {}
    shown: dict[tuple, dict] = {}
    for r in reports:
        key = r["elicitation_id"] or f"event:{r['event_id']}:{r['index']}"[:400]
        natural = (r["server_name"], key)
        requested = r["time"] if r["phase"] != "complete" else None
        completed = r["time"] if r["phase"] == "complete" else None
        row = merged.get(natural)
        if row is None:
            merged[natural] = [
                r["server_name"], key, r["elicitation_id"], *_refs(r, ids), r["session_id"],
                r["origin"], r["had_credentials"], r["redacted"], r["phase"] == "required",
                r["action"], requested, completed, r["event_id"], r["time"], r["time"],
            ]  # fmt: skip
        else:
            row[7] = row[7] or r["origin"]
            row[8], row[9] = row[8] or r["had_credentials"], row[9] or r["redacted"]
            row[10] = row[10] or r["phase"] == "required"
            row[11] = r["action"] or row[11]
            row[12], row[13] = row[12] or requested, row[13] or completed
            row[16] = r["time"]
        if r["origin"]:
            shown[natural] = r
    if not merged:
        return []
    cursor.execute(ELICITATION_SQL, _columns(sorted(merged.values(), key=lambda v: v[:2])))
    return [
        (row, shown[(row[1], row[2])]) for row in cursor.fetchall() if (row[1], row[2]) in shown
    ]


def _sampling(cursor, reports: list[dict], ids: dict) -> None:
    if not reports:
        return
    rows = [
        (
            r["server_name"], *_refs(r, ids), r["session_id"], _json(r["tools"]), r["tool_count"],
            r["tool_choice"], r["time"], r["event_id"],
        )
        for r in reports
    ]  # fmt: skip
    cursor.execute(SAMPLING_SQL, _columns(rows))
