""" "Used after revocation" (issue 13 §3): an event that uses what was revoked raises a flag.

Part of the derived-state contract with audit's ingest (derive.statements): the statement reads
the batch's stage. An event uses a revoked grant when it names the grant (`grant.id`, at its
issuer when it says one) or, naming none, when its client and acting identity hold a revoked
grant and no active one (a re-consent makes their use legitimate again); it uses a killed
client or a cut-off identity by being theirs. It counts only when the event's time is later
than the revocation plus the allowed clock skew (the `%(skew)s` seconds, settings
CONTAINMENT_CLOCK_SKEW_SECONDS): gateways' clocks differ, and an event stamped a second before
the cut is not evidence of anything.

One high flag per object and revocation (`dedup_key` is the mark's time, so an undo and a second
kill switch open a new one), refreshed by later uses: it keeps the first event ids (capped), the
first and last use and the number of uses. The statement runs only when something is revoked
at all (`EXISTS_SQL`, three probes of partial indexes that are empty otherwise), so ingest pays
nothing for it until the first revocation. The revocation itself is governance's row, which
inventory does not read: `details.revocation` is left null here and governance finds it by the
object and the mark's time (governance/containment/used_after.py).
"""

from __future__ import annotations

KIND = "access.used_after_revocation"
# Event ids kept on the flag: enough to open the evidence in the explorer, bounded per flag.
MAX_EVENT_IDS = 20

EXISTS_SQL = """
EXISTS (SELECT 1 FROM inventory_grant WHERE status = 'revoked')
OR EXISTS (SELECT 1 FROM inventory_client WHERE cut_off_at IS NOT NULL)
OR EXISTS (SELECT 1 FROM inventory_identity WHERE cut_off_at IS NOT NULL)
"""

# The revoked grants the batch names, and those of the (client, identity) pairs of events that
# name none: the distinct keys first (MATERIALIZED: computed once), then each looked up by a
# LATERAL subquery kept apart by OFFSET 0 (the client, the identity, then the grant by both), so
# the plan probes unique and partial indexes a few times per key whatever the (never analysed)
# stage's statistics say, instead of hashing every revoked grant for each batch.
_KEYS = """
named AS MATERIALIZED (
    SELECT u.grant_issuer, u.grant_id, g.id, g.revoked_at, g.external_id
    FROM (SELECT DISTINCT grant_issuer, grant_id FROM {stage} WHERE grant_id <> '') u
    CROSS JOIN LATERAL (
        SELECT g.id, g.revoked_at, g.external_id FROM inventory_grant g
        WHERE g.external_id = u.grant_id AND g.status = 'revoked'
          AND (u.grant_issuer = '' OR g.issuer = u.grant_issuer)
        OFFSET 0) g),
pairs AS MATERIALIZED (
    SELECT DISTINCT client_ref, actor_issuer, actor_subject FROM {stage}
    WHERE grant_id = '' AND client_ref <> '' AND actor_subject <> ''),
paired AS MATERIALIZED (
    SELECT p.client_ref, p.actor_issuer, p.actor_subject, c.id AS client_pk, i.id AS identity_pk,
           g.id, g.revoked_at, g.external_id
    FROM pairs p
    CROSS JOIN LATERAL (
        SELECT c.id FROM inventory_client c WHERE c.client_id = p.client_ref OFFSET 0) c
    CROSS JOIN LATERAL (
        SELECT i.id FROM inventory_identity i
        WHERE i.issuer = p.actor_issuer AND i.subject = p.actor_subject OFFSET 0) i
    CROSS JOIN LATERAL (
        SELECT g.id, g.revoked_at, g.external_id FROM inventory_grant g
        WHERE g.client_id = c.id AND g.subject_id = i.id AND g.status = 'revoked'
        OFFSET 0) g)
"""

_HITS = """
SELECT 'inventory.grant' AS object_type, r.id AS object_id, r.revoked_at AS cut_at,
       r.external_id AS repr, 'revoked' AS what, s.event_id, s.time
FROM {stage} s JOIN named r ON r.grant_id = s.grant_id AND r.grant_issuer = s.grant_issuer
WHERE s.time > r.revoked_at + {skew}
UNION ALL
SELECT 'inventory.grant', r.id, r.revoked_at, r.external_id, 'revoked', s.event_id, s.time
FROM {stage} s JOIN paired r ON r.client_ref = s.client_ref AND r.actor_issuer = s.actor_issuer
                            AND r.actor_subject = s.actor_subject
WHERE s.grant_id = '' AND s.time > r.revoked_at + {skew}
  -- Asked only of pairs holding a revoked grant: does an active one make the use legitimate?
  AND NOT EXISTS (SELECT 1 FROM inventory_grant a WHERE a.client_id = r.client_pk
                         AND a.subject_id = r.identity_pk AND a.status = 'active' OFFSET 0)
UNION ALL
SELECT 'inventory.client', c.id, c.cut_off_at, coalesce(nullif(c.name, ''), c.client_id),
       'killed', s.event_id, s.time
FROM {stage} s JOIN inventory_client c ON c.client_id = s.client_ref AND c.cut_off_at IS NOT NULL
WHERE s.client_ref <> '' AND s.time > c.cut_off_at + {skew}
  AND EXISTS (SELECT 1 FROM inventory_client WHERE cut_off_at IS NOT NULL)
UNION ALL
SELECT 'inventory.identity', i.id, i.cut_off_at,
       coalesce(nullif(i.display_name, ''), nullif(i.email, ''), i.subject), 'cut off',
       s.event_id, s.time
FROM {stage} s JOIN inventory_identity i ON i.issuer = s.actor_issuer
                                        AND i.subject = s.actor_subject
                                        AND i.cut_off_at IS NOT NULL
WHERE s.actor_subject <> '' AND s.time > i.cut_off_at + {skew}
  AND EXISTS (SELECT 1 FROM inventory_identity WHERE cut_off_at IS NOT NULL)
"""

_CUT = "to_char(cut_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

REVOKED_USE_SQL = (
    "WITH"
    + _KEYS
    + """
INSERT INTO inventory_finding (kind, severity, object_type, object_id, object_repr, dedup_key,
    summary, details, raised_at, last_raised_at, times_raised, resolved_at, resolved_by)
SELECT '"""
    + KIND
    + """', 'high', object_type, object_id::text, left(repr, 500), 'cut:' || """
    + _CUT
    + """,
       left(initcap(split_part(object_type, '.', 2)) || ' ' || repr || ' used after it was '
            || what || ' (' || """
    + _CUT
    + """ || ')', 500),
       jsonb_build_object(
           'revocation', NULL, 'cut_at', """
    + _CUT
    + """,
           'event_ids', jsonb_path_query_array(to_jsonb(array_agg(event_id ORDER BY time)),
                                               '$[0 to """
    + str(MAX_EVENT_IDS - 1)
    + """]'),
           'first_used_at', min(time), 'last_used_at', max(time), 'uses', count(*)),
       min(time), max(time), 1, NULL, ''
FROM ("""
    + _HITS
    + """) hits
GROUP BY object_type, object_id, cut_at, repr, what
ORDER BY object_type, object_id
ON CONFLICT (kind, object_type, object_id, dedup_key) WHERE resolved_at IS NULL DO UPDATE SET
    last_raised_at = GREATEST(inventory_finding.last_raised_at, EXCLUDED.last_raised_at),
    times_raised = inventory_finding.times_raised + 1,
    details = inventory_finding.details || jsonb_build_object(
        'event_ids', jsonb_path_query_array(
            coalesce(inventory_finding.details->'event_ids', '[]'::jsonb)
                || (EXCLUDED.details->'event_ids'), '$[0 to """
    + str(MAX_EVENT_IDS - 1)
    + """]'),
        'first_used_at', LEAST((inventory_finding.details->>'first_used_at')::timestamptz,
                               (EXCLUDED.details->>'first_used_at')::timestamptz),
        'last_used_at', GREATEST((inventory_finding.details->>'last_used_at')::timestamptz,
                                 (EXCLUDED.details->>'last_used_at')::timestamptz),
        'uses', coalesce((inventory_finding.details->>'uses')::bigint, 0)
                + (EXCLUDED.details->>'uses')::bigint)
"""
)
