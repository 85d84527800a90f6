"""The catalogue of finding rules (issue 14 §2): what each rule looks for, why it matters, its
default severity, what clears it, where it runs and the thresholds an Admin may change.

Plain data at the bottom layer, so the ingest SQL (inventory, audit), the scheduled rules
(governance/findings) and the pages all name the same kinds. docs/findings.md is the prose
version of this table and a test keeps the two in step.

Where a rule runs:
- "ingest": a set-based statement over each batch's stage, inside the ingest function;
- "crawl": after a crawl or an IdP sync, over what it changed;
- "schedule": by beat (FINDINGS_RULES_INTERVAL_SECONDS), over the whole inventory or the
  hourly rollups, resolving what no longer holds.

An Admin's overrides (enabled, severity, thresholds) are the SiteSetting `findings.rules`:
{kind: {"enabled": bool, "severity": str, "thresholds": {name: value}}}, read by
`effective_rule` (inventory/services/rule_settings.py).
"""

from __future__ import annotations

from inventory.finding_rules_discovery import DISCOVERY_RULES
from inventory.finding_rules_types import Rule, Threshold

__all__ = ["RULES", "RULES_BY_KIND", "SETTING_KEY", "Rule", "Threshold"]

RULES: tuple[Rule, ...] = (
    # --- who holds access they should not ------------------------------------------------------
    Rule(
        kind="identity.inactive_with_grants",
        title="Disabled or deleted identity still holds active grants",
        severity="high",
        why="The person or service left (or was disabled at the IdP) but agents can still act "
        "as it: its grants and refresh tokens outlive the account.",
        clears="The identity is active again, or none of its grants is active.",
        runs="schedule",
        object_type="inventory.identity",
    ),
    Rule(
        kind="client.blocked_with_grants",
        title="Blocked client still holds active grants",
        severity="high",
        why="Blocking a client in the console does not revoke what the IdPs issued to it; "
        "until the grants are revoked (kill switch) the agent keeps working.",
        clears="The client is unblocked, or none of its grants is active.",
        runs="schedule",
        object_type="inventory.client",
    ),
    Rule(
        kind="access.blocked_client_called",
        title="Calls from a blocked client",
        severity="high",
        why="A client the team blocked is still making calls through a gateway.",
        clears="The client is unblocked, or no call was seen for the quiet period.",
        runs="ingest",
        object_type="inventory.client",
        thresholds=(
            Threshold("quiet_hours", 24, "Hours without a call before it clears.", minimum=1),
        ),
    ),
    Rule(
        kind="access.blocked_server_called",
        title="Calls to a blocked server",
        severity="high",
        why="A server the team blocked is still being called.",
        clears="The server is unblocked, or no call was seen for the quiet period.",
        runs="ingest",
        object_type="inventory.server",
        thresholds=(
            Threshold("quiet_hours", 24, "Hours without a call before it clears.", minimum=1),
        ),
    ),
    Rule(
        kind="access.used_after_revocation",
        title="Used after revocation",
        severity="high",
        why="A revoked grant, a killed client or a cut-off identity was used after the cut "
        "(beyond the allowed clock skew): the revocation did not take effect everywhere.",
        clears="Resolved by a person once the residual access is explained or closed.",
        runs="ingest",
        object_type="inventory.grant",
    ),
    # --- grants ----------------------------------------------------------------------------------
    Rule(
        kind="grant.dormant",
        title="Dormant grant",
        severity="warning",
        why="An active grant nobody used for months is standing access with no purpose: least "
        "privilege says revoke it (access reviews recommend it too).",
        clears="The grant is used again, revoked or expires.",
        runs="schedule",
        object_type="inventory.grant",
        thresholds=(Threshold("days", 90, "Days without use.", minimum=1),),
    ),
    Rule(
        kind="grant.broad_scopes",
        title="Over-broad scopes on an agent",
        severity="warning",
        why="An agent holds admin, write-everything or omnibus scopes: one prompt injection "
        "acts with all of them.",
        clears="The grant no longer carries such a scope, or is no longer active.",
        runs="schedule",
        object_type="inventory.grant",
        thresholds=(
            Threshold(
                "patterns",
                [
                    "admin",
                    "*",
                    "all",
                    "write",
                    "full_access",
                    "root",
                    r".*:admin",
                    r".*:\*",
                    r".*:all",
                ],
                "Scopes (or regular expressions, matching the whole scope) counted as broad.",
            ),
        ),
    ),
    Rule(
        kind="grant.client_credentials_user_scopes",
        title="Client-credentials grant with user-level scopes",
        severity="high",
        why="A machine grant carries scopes meant for acting as a person (openid, profile, "
        "email, offline_access, user.*): nobody consented, yet it reads as someone.",
        clears="The grant no longer carries such a scope, or is no longer active.",
        runs="schedule",
        object_type="inventory.grant",
        thresholds=(
            Threshold(
                "user_scopes",
                ["openid", "profile", "email", "offline_access", "user.*", "User.*"],
                "Scopes (or regular expressions) that mean acting as a user.",
            ),
        ),
    ),
    # --- tasks -----------------------------------------------------------------------------------
    Rule(
        kind="task.past_ttl",
        title="Task past its TTL without a terminal status",
        severity="warning",
        why="Its server may have deleted it; nobody will hear how it ended.",
        clears="The task reports a terminal status, or a later report extends its TTL.",
        runs="schedule",
        object_type="inventory.task",
    ),
    Rule(
        kind="task.running_after_revocation",
        title="Task still running after its grant was revoked",
        severity="high",
        why="Revoking a grant (or cutting off its client or identity) does not stop work "
        "already started on its behalf: the task goes on with the access that was taken away.",
        clears="The task reaches a terminal status (or is cancelled).",
        runs="schedule",
        object_type="inventory.task",
    ),
    Rule(
        kind="task.illegal_transition",
        title="Illegal task status transition",
        severity="high",
        why="A task left a terminal state: the server or gateway reports tasks wrongly, so "
        "what looks finished may still be running.",
        clears="Resolved by a person.",
        runs="ingest",
        object_type="inventory.task",
    ),
    # --- clients and servers -------------------------------------------------------------------
    Rule(
        kind="client.risky_first_seen",
        title="New client first seen with risky metadata",
        severity="warning",
        why="A client appeared whose metadata already has problems (localhost or internal "
        "redirects, a published secret, omnibus scopes, an invalid document).",
        clears="Its metadata problems are gone, or a person resolves it.",
        runs="crawl",
        object_type="inventory.client",
        thresholds=(Threshold("days", 7, "How long a client counts as new.", minimum=1),),
    ),
    Rule(
        kind="cimd.redirect_uri_added",
        title="Client metadata drift: redirect URI added",
        severity="high",
        why="A client's metadata document added a redirect URI: codes and tokens can now go "
        "there, and a new origin or a localhost URI may be a takeover (warning when the new "
        "URI is on an origin the client already used).",
        clears="Resolved by a person who checked the change.",
        runs="crawl",
        object_type="inventory.client",
    ),
    Rule(
        kind="server.oauth_metadata_changed",
        title="Server OAuth metadata drift",
        severity="warning",
        why="A server's protected-resource or authorization-server metadata changed (issuer, "
        "authorization servers, endpoints, scopes): tokens may now go elsewhere.",
        clears="Resolved by a person who checked the change.",
        runs="crawl",
        object_type="inventory.server",
    ),
    Rule(
        kind="server.deleted_but_called",
        title="Server deleted in its registry but still called",
        severity="high",
        why="Its publisher withdrew it; whatever answers at its address now is unvetted.",
        clears="The registry lists it again, or no call was seen for the quiet period.",
        runs="ingest",
        object_type="inventory.server",
        thresholds=(
            Threshold("quiet_hours", 24, "Hours without a call before it clears.", minimum=1),
        ),
    ),
    Rule(
        kind="tool.name_violation",
        title="Tool name breaks the naming rules",
        severity="warning",
        why="MCP tool names are 1-128 characters of A-Z, a-z, 0-9, _, - and .; others collide "
        "or render misleadingly in clients (look-alike or control characters).",
        clears="The tool is no longer called by that name: no call for the quiet period (or "
        "the tool is gone).",
        runs="ingest",
        object_type="inventory.tool",
        thresholds=(
            Threshold("quiet_hours", 24, "Hours without a call before it clears.", minimum=1),
        ),
    ),
    Rule(
        kind="tool.first_called",
        title="New tool first called on a server",
        severity="info",
        why="A server started exposing (and an agent started calling) a tool nobody reviewed.",
        clears="Resolved by a person who reviewed the tool.",
        runs="ingest",
        object_type="inventory.tool",
    ),
    # --- activity --------------------------------------------------------------------------------
    Rule(
        kind="activity.error_spike",
        title="Spike of errors or denials",
        severity="warning",
        why="A client or server fails or is denied far more than its own usual hourly rate: "
        "a broken integration, a revoked credential in use, or probing.",
        clears="An hour back under the threshold.",
        runs="schedule",
        object_type="inventory.server",
        thresholds=(
            Threshold("factor", 3.0, "Times the hourly baseline.", minimum=1),
            Threshold("minimum", 20, "Errors and denials in the hour, at least.", minimum=1),
            Threshold("baseline_days", 7, "Days of history the baseline is taken from.", 1),
        ),
    ),
    # --- discovery and protocol: raised as they fetch or ingest, one Rule per kind -----------
    *DISCOVERY_RULES,
)

RULES_BY_KIND = {rule.kind: rule for rule in RULES}
SETTING_KEY = "findings.rules"
