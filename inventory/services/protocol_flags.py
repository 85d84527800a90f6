"""The protocol flags (issue 15 §2), raised in SQL from a batch's protocol reports.

Kinds (docs/events.md "Protocol features"), all on the server (`inventory.server`), with a
dedup key so a busy stream refreshes one open flag instead of piling them up (at most once a
minute: an open flag raised within derive.FRESH is not rewritten, nor row-locked):
- `protocol.elicitation_not_https` (key: the origin): a URL elicitation to a non-https origin;
- `protocol.elicitation_foreign_origin` (the origin): to an origin that is neither one of the
  server's own (its remote URLs) nor one an Admin allowed for it (ElicitationOriginAllowance);
- `protocol.elicitation_undeclared` (the client): to a client whose declared capabilities lack
  `elicitation.url` (judged once the client's declaration has been seen);
- `protocol.sampling_with_tools` (""): the server asked the client's model to sample with tools;
- `protocol.sampling_undeclared` (the client): it sampled although the client's declaration
  lacks `sampling` (or `sampling.tools` for a request with tools);
- `protocol.old_revision` (the revision): a session negotiated a revision older than the
  Admin-set minimum (SiteSetting `protocol.minimum_revision`; revisions are dates, compared
  as text);
- `protocol.server_version_unlisted` (the version): its `serverInfo.version` is none of the
  versions its registry lists (only for servers a registry lists).
"""

from __future__ import annotations

from inventory.models import MINIMUM_REVISION_SETTING
from inventory.services.derive import FRESH

# scheme://host[:port] of a stored remote URL (no userinfo there), lower-cased, without the
# default port: what inventory.remote_urls.url_origin makes of an elicitation's URL.
_REMOTE_ORIGIN = (
    "regexp_replace(regexp_replace(lower(substring(x.url from "
    "'^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*')), '^(https://.*):443$', '\\1'), "
    "'^(http://.*):80$', '\\1')"
)
_ELICITED = """
    FROM audit_protocol r JOIN inventory_server srv ON srv.name = r.server_name
    WHERE r.kind = 'elicitation' AND r.origin <> ''"""
_DETAILS = (
    "jsonb_build_object('origin', r.origin, 'elicitation_id', r.elicitation_id, "
    "'event_id', r.event_id)"
)
_CLIENT_PROFILE = """
    JOIN inventory_protocolprofile p ON p.role = 'client' AND p.peer_ref = r.client_ref"""

_SOURCES = (
    f"""
    SELECT 'protocol.elicitation_not_https' AS kind, 'high' AS severity, srv.id AS server_id,
           srv.name AS server_name, r.origin AS dedup,
           srv.name || ' sent a user to ' || r.origin || ' (not https) by URL elicitation'
               AS summary, {_DETAILS} AS details, r.time AS at
    {_ELICITED} AND r.origin NOT LIKE 'https://%'""",
    f"""
    SELECT 'protocol.elicitation_foreign_origin', 'high', srv.id, srv.name, r.origin,
           srv.name || ' sent a user to ' || r.origin || ', not its own origin nor one allowed',
           {_DETAILS}, r.time
    {_ELICITED}
      AND NOT EXISTS (SELECT 1 FROM inventory_serverremote x
                      WHERE x.server_id = srv.id AND {_REMOTE_ORIGIN} = r.origin)
      AND NOT EXISTS (SELECT 1 FROM inventory_elicitationoriginallowance a
                      WHERE a.server_id = srv.id AND a.origin = r.origin)""",
    f"""
    SELECT 'protocol.elicitation_undeclared', 'warning', srv.id, srv.name, r.client_ref,
           srv.name || ' used URL elicitation with ' || r.client_ref
               || ', which never declared URL mode', {_DETAILS}, r.time
    {_ELICITED.replace("WHERE", _CLIENT_PROFILE + chr(10) + "    WHERE")}
      AND NOT p.elicitation_url""",
    """
    SELECT 'protocol.sampling_with_tools', 'warning', srv.id, srv.name, '',
           srv.name || ' asked the client''s model to sample with ' || r.tool_count || ' tools',
           jsonb_build_object('event_id', r.event_id, 'tools', r.tools), r.time
    FROM audit_protocol r JOIN inventory_server srv ON srv.name = r.server_name
    WHERE r.kind = 'sampling' AND r.tool_count > 0""",
    f"""
    SELECT 'protocol.sampling_undeclared', 'high', srv.id, srv.name, r.client_ref,
           srv.name || ' sampled with ' || r.client_ref || ', which did not declare '
               || CASE WHEN p.sampling THEN 'sampling.tools' ELSE 'sampling' END,
           jsonb_build_object('event_id', r.event_id, 'tools', r.tools), r.time
    FROM audit_protocol r JOIN inventory_server srv ON srv.name = r.server_name
    {_CLIENT_PROFILE}
    WHERE r.kind = 'sampling'
      AND (NOT p.sampling OR (r.tool_count > 0 AND NOT p.sampling_tools))""",
    f"""
    SELECT 'protocol.old_revision', 'warning', srv.id, srv.name, r.negotiated,
           'Session ' || left(r.session_id, 100) || ' negotiated MCP ' || r.negotiated
               || ', older than the minimum ' || m.minimum,
           jsonb_build_object('session', r.session_id, 'negotiated', r.negotiated,
                              'minimum', m.minimum, 'event_id', r.event_id), r.time
    FROM audit_protocol r JOIN inventory_server srv ON srv.name = r.server_name
    JOIN (SELECT value #>> '{{}}' AS minimum FROM governance_sitesetting
          WHERE key = '{MINIMUM_REVISION_SETTING}') m ON m.minimum <> ''
    WHERE r.kind = 'session' AND r.negotiated <> '' AND r.negotiated < m.minimum""",
    """
    SELECT 'protocol.server_version_unlisted', 'warning', srv.id, srv.name, r.info_version,
           srv.name || ' reports version ' || r.info_version
               || ', which its registry does not list',
           jsonb_build_object('version', r.info_version, 'event_id', r.event_id), r.time
    FROM audit_protocol r JOIN inventory_server srv ON srv.name = r.server_name
    WHERE r.kind = 'peer' AND r.role = 'server' AND r.info_version <> ''
      AND EXISTS (SELECT 1 FROM inventory_serverversion v WHERE v.server_id = srv.id)
      AND NOT EXISTS (SELECT 1 FROM inventory_serverversion v
                      WHERE v.server_id = srv.id AND v.version = r.info_version)""",
)

FLAGS_SQL = (
    """
INSERT INTO inventory_finding (kind, severity, object_type, object_id, object_repr, dedup_key,
    summary, details, raised_at, last_raised_at, times_raised, resolved_at, resolved_by)
SELECT f.kind, f.severity, 'inventory.server', f.server_id::text, left(f.server_name, 500),
       f.dedup, left((array_agg(f.summary ORDER BY f.at DESC))[1], 500),
       (array_agg(f.details ORDER BY f.at DESC))[1], min(f.at), max(f.at), 1, NULL, ''
FROM (SELECT u.kind, u.severity, u.server_id, u.server_name, left(u.dedup, 300) AS dedup,
             u.summary, u.details, u.at
      FROM ("""
    + "\n    UNION ALL".join(_SOURCES)
    + """
      ) u) f
GROUP BY f.kind, f.severity, f.server_id, f.server_name, f.dedup
HAVING NOT EXISTS (
    SELECT 1 FROM inventory_finding x WHERE x.kind = f.kind AND x.object_type = 'inventory.server'
      AND x.object_id = f.server_id::text AND x.dedup_key = f.dedup
      AND x.resolved_at IS NULL AND max(f.at) <= x.last_raised_at + """
    + FRESH
    + """)
ORDER BY f.kind, f.server_id, f.dedup
ON CONFLICT (kind, object_type, object_id, dedup_key) WHERE resolved_at IS NULL DO UPDATE SET
    last_raised_at = GREATEST(inventory_finding.last_raised_at, EXCLUDED.last_raised_at),
    times_raised = inventory_finding.times_raised + 1,
    summary = EXCLUDED.summary,
    details = EXCLUDED.details
"""
)
