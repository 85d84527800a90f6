"""Derived inventory state from a batch of audit events, set-based (no ORM save per event).

The contract with audit's ingest is `statements(stage_table=..., columns=...)`: ingestion stages
the batch's new events in a table of its own (the session's temp table `audit_stage`), names it
and its columns, and gets back the SQL to run inside its transaction (audit/services/ingest.py
builds it into its per-connection function): one INSERT … SELECT … GROUP BY … ON CONFLICT per
entity. `STAGE_READS` lists every stage column these statements read; `statements` refuses a
stage without one of them. Rows are upserted in key order so concurrent batches take row locks
in the same order (no deadlocks between them). `apply_task_reports` advances tasks: one read,
one write each. `derive_revoked` raises the "used after revocation" flags, `derive_event_rules`
the findings about blocked, deleted and new things being called (and derives the Tool rows).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from inventory.remote_urls import USERINFO_PATTERN
from inventory.services import derive_event_rules, derive_revoked
from inventory.services.derive_tasks import apply_task_reports  # noqa: F401  (re-exported)

# "events" is SeenFrom.EVENTS; first_seen/last_seen only ever widen. last_seen is kept to the
# minute: the WHERE skips rewriting a row (a new tuple version, index and WAL traffic) for
# every batch that mentions a busy identity, client or server. The HAVING NOT EXISTS drops, by
# a plain read, the groups whose row already covers the batch: ON CONFLICT DO UPDATE locks the
# conflicting row even when its WHERE then skips the update, so without it every concurrent
# batch naming the same busy server queued behind the other's durable commit. Skipping on a
# stale read is safe: these fields only widen or fill in, so a newer row covers the batch too.
FRESH = "interval '1 minute'"
_IDENTITIES_SQL = """
INSERT INTO inventory_identity (issuer, subject, display_name, email, kind, status, team,
                                first_seen, last_seen, seen_from)
SELECT actor_issuer, actor_subject, coalesce(max(nullif(actor_name, '')), ''),
       coalesce(max(nullif(actor_email, '')), ''), coalesce(max(nullif(actor_kind, '')), 'human'),
       'active', '', min(time), max(time), 'events'
FROM {stage} WHERE actor_subject <> ''
GROUP BY actor_issuer, actor_subject
HAVING NOT EXISTS (
    SELECT 1 FROM inventory_identity e WHERE e.issuer = actor_issuer AND e.subject = actor_subject
      AND max(time) <= e.last_seen + {fresh} AND min(time) >= e.first_seen
      AND (e.email <> '' OR coalesce(max(nullif(actor_email, '')), '') = '')
      AND (e.display_name <> '' OR coalesce(max(nullif(actor_name, '')), '') = ''))
ORDER BY actor_issuer, actor_subject
ON CONFLICT (issuer, subject) DO UPDATE SET
    first_seen = LEAST(inventory_identity.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(inventory_identity.last_seen, EXCLUDED.last_seen),
    display_name = CASE WHEN inventory_identity.display_name = '' THEN EXCLUDED.display_name
                        ELSE inventory_identity.display_name END,
    email = CASE WHEN inventory_identity.email = '' THEN EXCLUDED.email
                 ELSE inventory_identity.email END
WHERE EXCLUDED.last_seen > inventory_identity.last_seen + {fresh}
   OR EXCLUDED.first_seen < inventory_identity.first_seen
   OR (inventory_identity.email = '' AND EXCLUDED.email <> '')
   OR (inventory_identity.display_name = '' AND EXCLUDED.display_name <> '')
"""

_CLIENTS_SQL = """
INSERT INTO inventory_client (client_id, issuer, registration, name, version, review_status,
                              first_seen, last_seen, seen_from)
SELECT client_ref, '', CASE WHEN client_ref LIKE 'https://%%' THEN 'cimd' ELSE 'pre_registered' END,
       coalesce(max(nullif(client_name, '')), ''), coalesce(max(nullif(client_version, '')), ''),
       'unreviewed', min(time), max(time), 'events'
FROM {stage} WHERE client_ref <> ''
GROUP BY client_ref
HAVING NOT EXISTS (
    SELECT 1 FROM inventory_client e WHERE e.client_id = client_ref
      AND max(time) <= e.last_seen + {fresh} AND min(time) >= e.first_seen
      AND (e.name <> '' OR coalesce(max(nullif(client_name, '')), '') = '')
      AND coalesce(max(nullif(client_version, '')), '') IN ('', e.version))
ORDER BY client_ref
ON CONFLICT (client_id) DO UPDATE SET
    first_seen = LEAST(inventory_client.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(inventory_client.last_seen, EXCLUDED.last_seen),
    name = CASE WHEN inventory_client.name = '' THEN EXCLUDED.name ELSE inventory_client.name END,
    version = CASE WHEN EXCLUDED.version <> '' THEN EXCLUDED.version
                   ELSE inventory_client.version END
WHERE EXCLUDED.last_seen > inventory_client.last_seen + {fresh}
   OR EXCLUDED.first_seen < inventory_client.first_seen
   OR (inventory_client.name = '' AND EXCLUDED.name <> '')
   OR (EXCLUDED.version <> '' AND EXCLUDED.version <> inventory_client.version)
"""

_SERVERS_SQL = """
INSERT INTO inventory_server (name, title, description, latest_version, repository_url,
                              repository_id, registry_status, review_status,
                              first_seen, last_seen, seen_from)
SELECT server_name, '', '', '', '', '', 'unlisted', 'unreviewed', min(time), max(time), 'events'
FROM {stage} WHERE server_name <> ''
GROUP BY server_name
HAVING NOT EXISTS (
    SELECT 1 FROM inventory_server e WHERE e.name = server_name
      AND max(time) <= e.last_seen + {fresh} AND min(time) >= e.first_seen)
ORDER BY server_name
ON CONFLICT (name) DO UPDATE SET
    first_seen = LEAST(inventory_server.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(inventory_server.last_seen, EXCLUDED.last_seen)
WHERE EXCLUDED.last_seen > inventory_server.last_seen + {fresh}
   OR EXCLUDED.first_seen < inventory_server.first_seen
"""

# A URL reported with `user:password@` (or the ingest's `[REDACTED:password_in_url]@` in its
# place) is stored without it, noting that it had one (inventory/remote_urls.py says why).
_REMOTES_SQL = """
INSERT INTO inventory_serverremote (server_id, url, transport, had_credentials, first_seen,
                                    last_seen)
SELECT srv.id, s.url, 'streamable-http', bool_or(s.had_credentials), min(s.time), max(s.time)
FROM (SELECT server_name, time, regexp_replace(server_url, '{userinfo}', '\\1') AS url,
             server_url ~ '{userinfo}' AS had_credentials
      FROM {stage} WHERE server_url <> '') s
JOIN inventory_server srv ON srv.name = s.server_name
GROUP BY srv.id, s.url
HAVING NOT EXISTS (
    SELECT 1 FROM inventory_serverremote e WHERE e.server_id = srv.id AND e.url = s.url
      AND max(s.time) <= e.last_seen + {fresh} AND min(s.time) >= e.first_seen
      AND (e.had_credentials OR NOT bool_or(s.had_credentials)))
ORDER BY srv.id, s.url
ON CONFLICT (server_id, url) DO UPDATE SET
    first_seen = LEAST(inventory_serverremote.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(inventory_serverremote.last_seen, EXCLUDED.last_seen),
    had_credentials = inventory_serverremote.had_credentials OR EXCLUDED.had_credentials
WHERE EXCLUDED.last_seen > inventory_serverremote.last_seen + {fresh}
   OR EXCLUDED.first_seen < inventory_serverremote.first_seen
   OR (EXCLUDED.had_credentials AND NOT inventory_serverremote.had_credentials)
"""

# Grants: IdP syncs create most; events create the ones they show and the ledger lacks, and say
# when any grant was last used. An event shows a grant when it is a delegation (a non-empty
# `delegation` chain, or `grant.type` token exchange / jwt-bearer, i.e. ID-JAG) or machine to
# machine (a client id and no user, the stage's service actor, or `grant.type`
# client_credentials). Its key is the event's `grant.id` when it has one, else a deterministic
# `event:` + sha256(client, subject issuer, subject, server) so a retried or later batch lands on
# the same row (docs/ingest.md). Such grants are inserted (seen_from events, status active, the
# latest event's scopes, `grant.expires_at`); a key already in the ledger only gets its last use
# and last_seen widened, whoever created it. The stage's JSON payload is read only for rows that
# may show a grant (a cheap text test first). `used` is the plain last-use update by grant id
# (an event naming no issuer matches the id at any issuer), minus the rows the insert handles:
# one statement must not touch a row twice. An event-shown grant's last use, like last_seen
# above, is kept to the minute, and the NOT EXISTS skips, by a plain read, keys whose row
# already covers the batch: a busy M2M grant is not rewritten (and row-locked) every batch.
_EVENT_GRANT = """
SELECT s.time, s.server_name, s.actor_issuer, s.actor_subject,
       coalesce(nullif(s.client_ref, ''), s.payload->'delegation'->0->>'id') AS client_key,
       regexp_replace(s.server_url, '{userinfo}', '\\1') AS url, s.grant_id, s.grant_issuer,
       s.m2m, s.payload->'grant' AS g,
       CASE lower(s.payload->'grant'->>'type')
           WHEN 'client_credentials' THEN 'client_credentials'
           WHEN 'token_exchange' THEN 'token_exchange'
           WHEN 'token-exchange' THEN 'token_exchange'
           WHEN 'urn:ietf:params:oauth:grant-type:token-exchange' THEN 'token_exchange'
           WHEN 'jwt_bearer' THEN 'jwt_bearer'
           WHEN 'jwt-bearer' THEN 'jwt_bearer'
           WHEN 'id-jag' THEN 'jwt_bearer'
           WHEN 'id_jag' THEN 'jwt_bearer'
           WHEN 'urn:ietf:params:oauth:grant-type:jwt-bearer' THEN 'jwt_bearer'
       END AS shown_type,
       CASE WHEN json_typeof(s.payload->'delegation') = 'array'  -- CASE: AND has no order
            THEN json_array_length(s.payload->'delegation') > 0 ELSE false END AS delegated
FROM (SELECT *, client_ref <> '' AND actor_kind = 'service' AND actor_subject = client_ref AS m2m
      FROM {stage}
      WHERE (client_ref <> '' AND actor_kind = 'service' AND actor_subject = client_ref)
         OR strpos(payload::text, '"delegation"') > 0 OR strpos(payload::text, '"grant"') > 0
     ) s
"""
_SHOWN = (
    """
SELECT e.time, c.id AS client_pk, srv.id AS server_pk, e.url, e.g,
       CASE WHEN e.m2m OR e.shown_type = 'client_credentials' THEN NULL ELSE i.id END AS subject_pk,
       coalesce(e.shown_type, CASE WHEN e.delegated THEN 'token_exchange'
                                   ELSE 'client_credentials' END) AS grant_type,
       CASE WHEN e.grant_issuer = '' AND e.grant_id <> '' THEN coalesce(
                (SELECT min(x.issuer) FROM inventory_grant x WHERE x.external_id = e.grant_id), '')
            ELSE e.grant_issuer END AS issuer,
       CASE WHEN e.grant_id <> '' THEN e.grant_id
            ELSE 'event:' || encode(sha256(convert_to(concat_ws(E'\\n', e.client_key,
                CASE WHEN e.m2m OR e.shown_type = 'client_credentials' THEN ''
                     ELSE e.actor_issuer END,
                CASE WHEN e.m2m OR e.shown_type = 'client_credentials' THEN ''
                     ELSE e.actor_subject END,
                e.server_name), 'UTF8')), 'hex') END AS external_id
FROM ("""
    + _EVENT_GRANT
    + """) e
JOIN inventory_client c ON c.client_id = e.client_key
LEFT JOIN inventory_server srv ON e.server_name <> '' AND srv.name = e.server_name
LEFT JOIN inventory_identity i ON e.actor_subject <> '' AND i.issuer = e.actor_issuer
                              AND i.subject = e.actor_subject
WHERE e.m2m OR e.delegated OR e.shown_type IS NOT NULL
"""
)
# `grant.expires_at` passed validation (an RFC 3339 time); the pattern keeps a form Python reads
# and PostgreSQL might not (ISO basic, week dates) from failing the batch: it is left empty.
_RFC3339 = "^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][t ][0-9:.]+(z|[+-][0-9:]+)$"
_GRANTS_SQL = (
    """
WITH shown AS MATERIALIZED ("""
    + _SHOWN
    + """),
keys AS MATERIALIZED (SELECT DISTINCT issuer, external_id FROM shown),
used AS (
    UPDATE inventory_grant g SET last_used_at = u.used
    FROM (SELECT grant_issuer, grant_id, max(time) AS used FROM {stage}
          WHERE grant_id <> '' GROUP BY grant_issuer, grant_id) u
    WHERE g.external_id = u.grant_id AND (u.grant_issuer = '' OR g.issuer = u.grant_issuer)
      AND (g.last_used_at IS NULL OR g.last_used_at < u.used)
      AND NOT EXISTS (SELECT 1 FROM keys k WHERE k.issuer = g.issuer
                                             AND k.external_id = g.external_id))
INSERT INTO inventory_grant (subject_id, client_id, server_id, resource, scopes, grant_type,
    issuer, external_id, has_refresh_token, id_jag_jti, issued_at, expires_at, last_used_at,
    status, revoked_at, revoked_by, revoke_reason, vanished_at, raw, content_hash,
    access_token_expires_at, first_seen, last_seen, seen_from)
SELECT (array_agg(subject_pk ORDER BY time DESC))[1], (array_agg(client_pk ORDER BY time DESC))[1],
       (array_agg(server_pk ORDER BY time DESC))[1],
       coalesce((array_agg(url ORDER BY time DESC))[1], ''),
       ARRAY(SELECT json_array_elements_text((array_agg(g ORDER BY time DESC)
                 FILTER (WHERE json_typeof(g->'scopes') = 'array'))[1]->'scopes')),
       (array_agg(grant_type ORDER BY time DESC))[1], issuer, external_id, false, '', NULL,
       max(CASE WHEN g->>'expires_at' ~* '"""
    + _RFC3339
    + """' THEN (g->>'expires_at')::timestamptz END),
       max(time), 'active', NULL, '', '', NULL, jsonb_build_object(), '', NULL, min(time),
       max(time), 'events'
FROM shown
GROUP BY issuer, external_id
HAVING NOT EXISTS (
    SELECT 1 FROM inventory_grant e WHERE e.issuer = shown.issuer
      AND e.external_id = shown.external_id AND max(time) <= e.last_used_at + {fresh}
      AND max(time) <= e.last_seen + {fresh})
ORDER BY issuer, external_id
ON CONFLICT (issuer, external_id) DO UPDATE SET
    last_used_at = GREATEST(inventory_grant.last_used_at, EXCLUDED.last_used_at),
    last_seen = GREATEST(inventory_grant.last_seen, EXCLUDED.last_seen)
WHERE inventory_grant.last_used_at IS NULL
   OR EXCLUDED.last_used_at > inventory_grant.last_used_at + {fresh}
   OR EXCLUDED.last_seen > inventory_grant.last_seen + {fresh}
"""
)


# Every stage column the statements above read (the stage may hold more).
STAGE_READS = (
    "event_id",
    "time",
    "actor_issuer",
    "actor_subject",
    "actor_name",
    "actor_email",
    "actor_kind",
    "client_ref",
    "client_name",
    "client_version",
    "server_name",
    "server_url",
    "tool",
    "grant_issuer",
    "grant_id",
    "payload",
)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class DeriveStatements:
    """The derived-state SQL for one stage table, one statement per entity."""

    identities: str  # when the batch names an actor
    clients: str  # ... a client
    servers: str  # ... a server
    remotes: str  # ... a server URL (after `servers`: it joins the server rows)
    grants: str  # ... a grant id, a delegation or a machine-to-machine call
    # ... a client, an actor or a grant, once anything is revoked (derive_revoked.EXISTS_SQL):
    # "used after revocation" flags; `%(skew)s` is the allowed clock skew in seconds.
    revoked_use: str
    # ... a server, the event rules on (settings.FINDINGS_EVENT_RULES): the Tool rows events
    # show and, in the same statement, the tool findings (derive_event_rules).
    tools_with_rules: str
    # ... a client or a server, rules on, once anything is blocked or deleted
    # (derive_event_rules.EXISTS_SQL): the "called" findings.
    called_rules: str


def statements(*, stage_table: str, columns: Sequence[str]) -> DeriveStatements:
    """The statements reading `stage_table`, whose `columns` must include STAGE_READS."""
    if not _IDENTIFIER.match(stage_table):
        raise ValueError(f"stage table {stage_table!r} is not a plain SQL identifier")
    missing = [column for column in STAGE_READS if column not in columns]
    if missing:
        raise ValueError(f"the stage lacks columns the derived statements read: {missing}")

    def render(template: str) -> str:
        return (
            template.replace("{stage}", stage_table)
            .replace("{fresh}", FRESH)
            .replace("{userinfo}", USERINFO_PATTERN)
            .replace("{skew}", "make_interval(secs => %(skew)s)")
        )

    return DeriveStatements(
        identities=render(_IDENTITIES_SQL),
        clients=render(_CLIENTS_SQL),
        servers=render(_SERVERS_SQL),
        remotes=render(_REMOTES_SQL),
        grants=render(_GRANTS_SQL),
        revoked_use=render(derive_revoked.REVOKED_USE_SQL),
        tools_with_rules=render(derive_event_rules.TOOLS_WITH_RULES_SQL),
        called_rules=render(derive_event_rules.CALLED_SQL),
    )
