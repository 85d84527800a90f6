"""The grant ledger's writes from an IdP sync: set-based upserts of one page of identities,
clients or grants, and marking the grants an IdP stopped listing as vanished.

Rows arrive as plain dicts (the sync normalises what its connector returns), so inventory
imports nothing of governance's domain. Each page is a few multi-row statements (one round trip
each, `INSERT ... ON CONFLICT`), never an ORM save per row:
- a grant carries `content_hash` (sha256 of its canonical record). A sync loads what its
  issuers hold once (`KnownGrants`: external id -> hash, one streamed query) and drops an
  unchanged record before any statement, so re-syncing an unchanged IdP costs no round trip per
  page; the upsert still filters unchanged rows (`NOT EXISTS`: ON CONFLICT DO UPDATE would lock,
  and so write, the row even when its WHERE then skips it) for callers without the map;
- `last_seen` of an unchanged row is refreshed at most once a day (FRESH), for the same reason;
- a grant is never deleted: one the IdP no longer lists gets `vanished_at` (what the map still
  holds after a complete listing, updated by key: only those rows), one seen again has it
  cleared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from django.db import connection, transaction

# An unchanged row's last_seen is refreshed when it is older than this (a day of re-syncs is
# then free of writes, and "last seen" stays honest to the day).
FRESH = "1 day"


@dataclass
class Counts:
    """What one page (or a whole sync) did."""

    seen: int = 0
    created: int = 0
    changed: int = 0
    vanished: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        self.seen += other.seen
        self.created += other.created
        self.changed += other.changed
        self.vanished += other.vanished
        self.skipped += other.skipped
        self.problems.extend(other.problems)


def content_hash(record: dict) -> str:
    """sha256 of the canonical JSON of `record` (sorted keys; datetimes as ISO strings)."""
    canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()


def grant_hash(row: dict) -> str:
    """The content hash of one grant row as `upsert_grants` takes it, for a caller that brings
    none (the IdP sync hashes its connector's record instead, before normalising it)."""
    return content_hash(
        {
            "subject": row.get("subject"),
            "client_id": row.get("client_id"),
            "scopes": row.get("scopes"),
            "grant_type": row.get("grant_type"),
            "raw": row.get("raw"),
            "issued_at": row.get("issued_at"),
            "expires_at": row.get("expires_at"),
            "resource": row.get("resource", ""),
            "refresh": row.get("has_refresh_token"),
        }
    )


def _unnest(rows: Sequence[Sequence], casts: Sequence[str]) -> tuple[str, list]:
    """`unnest(%s::type[], ...)` over the columns of `rows`, and its parameters: one array per
    column, so a page of 500 rows is a dozen parameters, not thousands of placeholders (which
    cost more to bind than the statement costs to run)."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    return "unnest(" + ", ".join(f"%s::{cast}[]" for cast in casts) + ")", columns


_IDENTITIES_SQL = """
INSERT INTO inventory_identity AS t (issuer, subject, display_name, email, kind, status, team,
                                     first_seen, last_seen, seen_from)
SELECT v.issuer, v.subject, v.display_name, v.email,
       coalesce(nullif(v.kind, ''), e.kind, 'human'), v.status, '', %s, %s, 'idp'
FROM {values} AS v(issuer, subject, display_name, email, kind, status)
LEFT JOIN inventory_identity e ON e.issuer = v.issuer AND e.subject = v.subject
WHERE e.id IS NULL
   OR (e.display_name, e.email, e.kind, e.status)
      IS DISTINCT FROM (v.display_name, v.email, coalesce(nullif(v.kind, ''), e.kind), v.status)
   OR e.last_seen < %s - interval '{fresh}'
ON CONFLICT (issuer, subject) DO UPDATE SET
    display_name = EXCLUDED.display_name, email = EXCLUDED.email, kind = EXCLUDED.kind,
    status = EXCLUDED.status, last_seen = GREATEST(t.last_seen, EXCLUDED.last_seen),
    seen_from = 'idp'
RETURNING (t.xmax = 0)
"""


def upsert_identities(*, issuer: str, rows: Sequence[dict], at: datetime) -> Counts:
    """Upsert one page of identities (`subject`, `display_name`, `email`, `kind`, `status`);
    a `kind` of "" (the IdP does not say) keeps the stored one, "human" for a new identity."""
    counts = Counts(seen=len(rows))
    rows = list({row["subject"]: row for row in rows}.values())  # one row per key per statement
    if not rows:
        return counts
    values, params = _unnest(
        [
            (issuer, r["subject"], r["display_name"], r["email"], r["kind"], r["status"])
            for r in rows
        ],
        ["text"] * 6,
    )
    sql = _IDENTITIES_SQL.format(values=values, fresh=FRESH)
    return _count(sql, [at, at, *params, at], counts)


_LINKS_SQL = """
UPDATE inventory_identity AS t
SET manager_id = coalesce(m.id, t.manager_id), sponsor_id = coalesce(s.id, t.sponsor_id),
    owner_id = coalesce(o.id, t.owner_id)
FROM {values} AS v(subject, manager, sponsor, owner)
LEFT JOIN inventory_identity m ON m.issuer = %s AND m.subject = v.manager
LEFT JOIN inventory_identity s ON s.issuer = %s AND s.subject = v.sponsor
LEFT JOIN inventory_identity o ON o.issuer = %s AND o.subject = v.owner
WHERE t.issuer = %s AND t.subject = v.subject
  AND (t.manager_id IS DISTINCT FROM coalesce(m.id, t.manager_id)
    OR t.sponsor_id IS DISTINCT FROM coalesce(s.id, t.sponsor_id)
    OR t.owner_id IS DISTINCT FROM coalesce(o.id, t.owner_id))
"""


def link_identities(*, issuer: str, links: Sequence[tuple[str, str, str, str]]) -> int:
    """Set manager, sponsor and owner by subject: (subject, manager, sponsor, owner), "" for
    none. Run after every page of identities is in, so a link to a later page resolves."""
    if not links:
        return 0
    values, params = _unnest(links, ["text"] * 4)
    with connection.cursor() as cursor:
        cursor.execute(_LINKS_SQL.format(values=values), [*params, issuer, issuer, issuer, issuer])
        return cursor.rowcount


_CLIENTS_SQL = """
INSERT INTO inventory_client AS t (client_id, issuer, registration, name, version, review_status,
                                   first_seen, last_seen, seen_from)
SELECT v.client_id, %s,
       CASE WHEN v.client_id LIKE 'https://%%' THEN 'cimd' ELSE 'pre_registered' END,
       v.name, '', 'unreviewed', %s, %s, 'idp'
FROM {values} AS v(client_id, name)
WHERE NOT EXISTS (
    SELECT 1 FROM inventory_client e WHERE e.client_id = v.client_id AND e.issuer <> ''
      AND (v.name = '' OR v.name = e.name) AND e.last_seen >= %s - interval '{fresh}')
ON CONFLICT (client_id) DO UPDATE SET
    name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE t.name END,
    issuer = CASE WHEN t.issuer = '' THEN EXCLUDED.issuer ELSE t.issuer END,
    last_seen = GREATEST(t.last_seen, EXCLUDED.last_seen)
WHERE (EXCLUDED.name <> '' AND EXCLUDED.name <> t.name)
   OR t.issuer = ''
   OR t.last_seen < EXCLUDED.last_seen - interval '{fresh}'
RETURNING (t.xmax = 0)
"""


def upsert_clients(*, issuer: str, rows: Sequence[dict], at: datetime) -> Counts:
    """Upsert one page of clients (`client_id`, `name`), matched to inventory clients by
    client id; a client someone already named keeps its id, registration and review."""
    counts = Counts(seen=len(rows))
    rows = list({row["client_id"]: row for row in rows}.values())
    if not rows:
        return counts
    values, params = _unnest([(r["client_id"], r["name"]) for r in rows], ["text", "text"])
    sql = _CLIENTS_SQL.format(values=values, fresh=FRESH)
    return _count(sql, [issuer, at, at, *params, at], counts)


# The subjects and clients a page of grants names, made first so the grants can point at them.
_GRANT_SUBJECTS_SQL = """
INSERT INTO inventory_identity (issuer, subject, display_name, email, kind, status, team,
                                first_seen, last_seen, seen_from)
SELECT DISTINCT %s, v.subject, '', '', 'human', 'active', '', %s, %s, 'idp'
FROM unnest(%s::text[]) AS v(subject)
WHERE NOT EXISTS (SELECT 1 FROM inventory_identity e WHERE e.issuer = %s AND e.subject = v.subject)
ON CONFLICT (issuer, subject) DO NOTHING
"""
_GRANT_CLIENTS_SQL = """
INSERT INTO inventory_client (client_id, issuer, registration, name, version, review_status,
                              first_seen, last_seen, seen_from)
SELECT DISTINCT v.client_id, %s,
       CASE WHEN v.client_id LIKE 'https://%%' THEN 'cimd' ELSE 'pre_registered' END,
       '', '', 'unreviewed', %s, %s, 'idp'
FROM unnest(%s::text[]) AS v(client_id)
WHERE NOT EXISTS (SELECT 1 FROM inventory_client e WHERE e.client_id = v.client_id)
ON CONFLICT (client_id) DO NOTHING
"""
_GRANTS_SQL = """
INSERT INTO inventory_grant AS t (
    issuer, external_id, subject_id, client_id, scopes, grant_type, issued_at, expires_at, raw,
    content_hash, resource, has_refresh_token, id_jag_jti, status, revoked_by, revoke_reason,
    first_seen, last_seen, seen_from)
SELECT %s, v.external_id, i.id, c.id,
       ARRAY(SELECT jsonb_array_elements_text(v.scopes))::varchar(200)[], v.grant_type,
       v.issued_at, v.expires_at, v.raw, v.content_hash, v.resource, v.has_refresh_token,
       '', 'active', '', '', %s, %s, 'idp'
FROM jsonb_to_recordset(%s::jsonb) AS v(
    external_id text, subject text, client text, scopes jsonb, grant_type text,
    issued_at timestamptz, expires_at timestamptz, raw jsonb, content_hash text, resource text,
    has_refresh_token boolean)
JOIN inventory_client c ON c.client_id = v.client
LEFT JOIN inventory_identity i ON i.issuer = %s AND i.subject = v.subject
WHERE NOT EXISTS (
    SELECT 1 FROM inventory_grant e WHERE e.issuer = %s AND e.external_id = v.external_id
      AND e.content_hash = v.content_hash AND e.vanished_at IS NULL
      AND e.last_seen >= %s - interval '{fresh}')
ON CONFLICT (issuer, external_id) DO UPDATE SET
    subject_id = EXCLUDED.subject_id, client_id = EXCLUDED.client_id, scopes = EXCLUDED.scopes,
    grant_type = EXCLUDED.grant_type, issued_at = EXCLUDED.issued_at,
    expires_at = EXCLUDED.expires_at, raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash,
    resource = EXCLUDED.resource, has_refresh_token = EXCLUDED.has_refresh_token,
    last_seen = GREATEST(t.last_seen, EXCLUDED.last_seen), seen_from = 'idp', vanished_at = NULL
WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash
   OR t.vanished_at IS NOT NULL
   OR t.last_seen < EXCLUDED.last_seen - interval '{fresh}'
RETURNING (t.xmax = 0)
"""


def upsert_grants(*, issuer: str, rows: Sequence[dict], at: datetime) -> Counts:
    """Upsert one page of grants keyed (issuer, `external_id`): `subject` ("" for a client's
    own grant), `client_id`, `scopes`, `grant_type`, `issued_at`, `expires_at`, `raw`,
    optional `resource`, `has_refresh_token` and `content_hash` (`grant_hash(row)`, when the
    caller has it already). Subjects and clients it names that inventory lacks are created; an
    unchanged record (same content hash) is not written."""
    counts = Counts(seen=len(rows))
    rows = list({row["external_id"]: row for row in rows}.values())
    if not rows:
        return counts
    prepared = []
    for r in rows:
        prepared.append(
            {
                "external_id": r["external_id"],
                "subject": r["subject"],
                "client": r["client_id"],
                "scopes": list(r["scopes"]),
                "grant_type": r["grant_type"],
                "issued_at": r.get("issued_at"),
                "expires_at": r.get("expires_at"),
                "raw": r.get("raw") or {},
                "content_hash": r.get("content_hash") or grant_hash(r),
                "resource": r.get("resource", ""),
                "has_refresh_token": bool(r.get("has_refresh_token", False)),
            }
        )
    subjects = sorted({r["subject"] for r in rows if r["subject"]})
    clients = sorted({r["client_id"] for r in rows})
    # The page is one JSON parameter: binding it costs one string, where a column of raw
    # records as a jsonb[] array costs an escaping pass per element.
    page = orjson.dumps(prepared, default=str).decode()
    with transaction.atomic():
        with connection.cursor() as cursor:
            if subjects:
                cursor.execute(_GRANT_SUBJECTS_SQL, [issuer, at, at, subjects, issuer])
            cursor.execute(_GRANT_CLIENTS_SQL, [issuer, at, at, clients])
        sql = _GRANTS_SQL.format(fresh=FRESH)
        return _count(sql, [issuer, at, at, page, issuer, issuer, at], counts)


def _count(sql: str, params: list, counts: Counts) -> Counts:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for (created,) in cursor.fetchall():
            if created:
                counts.created += 1
            else:
                counts.changed += 1
    return counts


_REMOVED_SQL = """
UPDATE inventory_grant SET vanished_at = %s
WHERE issuer = ANY(%s::text[]) AND external_id = ANY(%s::text[]) AND vanished_at IS NULL
  AND content_hash <> ''
"""


def refresh_statistics() -> None:
    """ANALYZE the ledger's tables. A sync that has just inserted thousands of rows leaves the
    planner believing they are empty, and it then plans the upserts' lookups as nested loops
    over a whole issuer's grants (0.3 s a page at 10,000 grants, quadratic beyond): the sync
    calls this as its inserts double, as a bulk load should."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_grant, inventory_identity, inventory_client")


_KNOWN_SQL = """
SELECT issuer, external_id,
       CASE WHEN last_seen >= %s - interval '{fresh}' THEN content_hash ELSE '' END
FROM inventory_grant
WHERE issuer = ANY(%s::text[]) AND vanished_at IS NULL AND content_hash <> ''
  AND NOT grant_type = ANY(%s::text[])
"""


class KnownGrants:
    """The synced, not vanished grants of a sync's issuers, loaded once at its start: per issuer,
    external id -> content hash ("" when last_seen is due for its daily refresh, so the row is
    written). A record the sync reads is taken out (`see`); what is left after a complete
    listing is what vanished. ~0.2 KB a grant (two strings and a dict slot: 20 MB at
    100,000 grants with short ids)."""

    def __init__(self, by_issuer: dict[str, dict[str, str]]):
        self.by_issuer = by_issuer

    @classmethod
    def load(
        cls, *, issuers: Sequence[str], at: datetime, except_types: Sequence[str] = ()
    ) -> KnownGrants:
        """One query, streamed (a server-side cursor: the rows are never all in memory twice).
        `except_types`: grant types this sync does not list in full (read as changes), which
        therefore cannot vanish by absence."""
        by_issuer: dict[str, dict[str, str]] = {issuer: {} for issuer in issuers}
        with transaction.atomic(), connection.chunked_cursor() as cursor:
            cursor.execute(_KNOWN_SQL.format(fresh=FRESH), [at, list(issuers), list(except_types)])
            while chunk := cursor.fetchmany(10_000):
                for issuer, external_id, stored in chunk:
                    by_issuer[issuer][external_id] = stored
        return cls(by_issuer)

    def see(self, issuer: str, external_id: str) -> str:
        """`external_id` was listed under `issuer`: it is not vanished. Returns the hash its
        row holds when writing the same hash again would change nothing ("" otherwise)."""
        return self.by_issuer.get(issuer, {}).pop(external_id, "")


_VANISH_SQL = """
UPDATE inventory_grant AS t SET vanished_at = %s
FROM unnest(%s::text[], %s::text[]) AS v(issuer, external_id)
WHERE t.issuer = v.issuer AND t.external_id = v.external_id
  AND t.vanished_at IS NULL AND t.content_hash <> ''
"""
VANISH_BATCH = 10_000


def mark_vanished(*, known: KnownGrants, at: datetime) -> int:
    """Mark the grants `known` still holds (loaded at the sync's start, not seen since) as
    vanished at `at`: only those rows, by key; never deletes. Returns how many vanished now."""
    unseen = [(issuer, eid) for issuer, ids in known.by_issuer.items() for eid in ids]
    vanished = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(unseen), VANISH_BATCH):
            batch = unseen[start : start + VANISH_BATCH]
            issuers = [issuer for issuer, _ in batch]
            cursor.execute(_VANISH_SQL, [at, issuers, [eid for _, eid in batch]])
            vanished += cursor.rowcount
    return vanished


def mark_removed(*, issuers: Sequence[str], external_ids: Sequence[str], at) -> int:
    """Mark the synced grants the IdP reported as removed (`external_ids`, e.g. Graph's delta
    `@removed`) as vanished at `at`; never deletes. Returns how many vanished now."""
    if not issuers or not external_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_REMOVED_SQL, [at, list(issuers), list(external_ids)])
        return cursor.rowcount
