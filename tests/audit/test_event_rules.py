"""The finding rules of the ingest path (issue 14 §2): events sent to POST /api/v1/events that
come from a blocked client, go to a blocked server or to one its registry deleted, call a tool
nobody saw before or one with a name outside the MCP rules raise findings with their evidence;
a second batch refreshes the open finding instead of opening another, and the quiet-period
clearing resolves what no longer holds."""

from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from django.test import override_settings

from audit.models import ClientRollupHourly
from audit.services.sources import create_source
from governance.findings.event_rules import clear_quiet_event_findings
from governance.findings.rules import run_scheduled_rules
from inventory.models import Client, Finding, FindingChange, Server, Tool
from inventory.services.rule_settings import save_rule_overrides
from tests.ingest_helpers import iso, make_event

pytestmark = pytest.mark.django_db(transaction=True)

BLOCKED_AGENT = "https://blocked.example/client.json"
AGENT = "https://agent.example.com/client.json"
NOW = datetime.now(UTC).replace(microsecond=0)


def ago(minutes: float) -> str:
    return iso(NOW - timedelta(minutes=minutes))


def post(live_server, token, events):
    response = httpx.post(
        f"{live_server.url}/api/v1/events",
        content=orjson.dumps(events),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events), response.json()


def call(*, client=AGENT, server="io.github.acme/reports", tool="export_report", **fields):
    return make_event(
        client={"id": client, "name": ""},
        server={"name": server, "url": "https://mcp.acme.example/mcp"},
        tool=tool,
        **fields,
    )


@pytest.fixture
def token(db):
    return create_source(name="gw-event-rules")[1]


@pytest.fixture
def inventory(db):
    """A blocked client, a blocked server, a server its registry deleted, and one listed
    server whose registry lists the tool `export_report`."""
    seen = {"first_seen": NOW - timedelta(days=1), "last_seen": NOW - timedelta(days=1)}
    blocked_client = Client.objects.create(
        client_id=BLOCKED_AGENT, name="Shadow agent", review_status="blocked", **seen
    )
    blocked_server = Server.objects.create(
        name="io.github.evil/exfil", review_status="blocked", **seen
    )
    deleted = Server.objects.create(name="io.github.gone/old", registry_status="deleted", **seen)
    listed = Server.objects.create(name="io.github.acme/reports", registry_status="active", **seen)
    Tool.objects.create(server=listed, name="export_report", **seen)
    return {
        "client": blocked_client,
        "server": blocked_server,
        "deleted": deleted,
        "listed": listed,
    }


def findings(kind: str):
    return list(Finding.objects.filter(kind=kind).order_by("id"))


def test_calls_of_a_blocked_client_raise_one_high_finding_with_the_events_as_evidence(
    live_server, token, inventory
):
    calls = [call(client=BLOCKED_AGENT, time=ago(10 - i)) for i in range(3)]
    post(live_server, token, [*calls, call(time=ago(5))])
    (finding,) = findings("access.blocked_client_called")
    assert (finding.object_type, finding.object_id) == (
        "inventory.client",
        str(inventory["client"].pk),
    )
    assert finding.severity == "high" and finding.status == "open"
    assert "Shadow agent" in finding.summary
    assert finding.details["event_ids"] == [c["id"] for c in calls]
    assert finding.details["calls"] == 3
    assert finding.details["first_call_at"].startswith(ago(10)[:19])
    assert finding.details["last_call_at"].startswith(ago(8)[:19])
    # The finding was recorded as opened, and handed to delivery.
    assert finding.changes.filter(action="opened").exists()
    assert finding.notices.filter(reason="opened").exists()


def test_calls_to_a_blocked_server_and_to_a_deleted_one_raise_a_finding_on_each_server(
    live_server, token, inventory
):
    post(
        live_server,
        token,
        [call(server="io.github.evil/exfil", tool="dump"), call(server="io.github.gone/old")],
    )
    (blocked,) = findings("access.blocked_server_called")
    (deleted,) = findings("server.deleted_but_called")
    assert blocked.object_id == str(inventory["server"].pk)
    assert deleted.object_id == str(inventory["deleted"].pk)
    assert "deleted in its registry" in deleted.summary
    assert not findings("access.blocked_client_called")


def test_a_later_batch_refreshes_the_open_finding_instead_of_opening_another(
    live_server, token, inventory
):
    first = call(client=BLOCKED_AGENT, time=ago(30))
    post(live_server, token, [first])
    # Within a minute of the last refresh: nothing is rewritten.
    post(live_server, token, [call(client=BLOCKED_AGENT, time=ago(29.5))])
    (finding,) = findings("access.blocked_client_called")
    assert finding.times_raised == 1 and finding.details["calls"] == 1
    later = [call(client=BLOCKED_AGENT, time=ago(3)), call(client=BLOCKED_AGENT, time=ago(2))]
    post(live_server, token, later)
    (finding,) = findings("access.blocked_client_called")
    assert finding.times_raised == 2
    assert finding.details["calls"] == 3
    assert finding.details["event_ids"] == [first["id"], *(c["id"] for c in later)]
    assert finding.details["first_call_at"].startswith(ago(30)[:19])
    assert finding.last_raised_at == NOW - timedelta(minutes=2)


def test_the_evidence_keeps_at_most_twenty_event_ids(live_server, token, inventory):
    post(live_server, token, [call(client=BLOCKED_AGENT, time=ago(60 - i)) for i in range(25)])
    (finding,) = findings("access.blocked_client_called")
    assert len(finding.details["event_ids"]) == 20 and finding.details["calls"] == 25


def test_a_tool_first_called_on_a_server_raises_an_info_finding_once(live_server, token, inventory):
    new = [call(tool="delete_everything", time=ago(4)), call(tool="delete_everything")]
    post(live_server, token, [*new, call(tool="export_report")])
    tool = Tool.objects.get(server=inventory["listed"], name="delete_everything")
    assert tool.name_conforms
    (finding,) = findings("tool.first_called")
    assert (finding.object_type, finding.object_id, finding.severity) == (
        "inventory.tool",
        str(tool.pk),
        "info",
    )
    assert finding.details["server"] == "io.github.acme/reports"
    assert finding.details["event_ids"] == [e["id"] for e in new]
    # The registry's tool was not new; a second batch calling the new one raises nothing more.
    post(live_server, token, [call(tool="delete_everything")])
    assert len(findings("tool.first_called")) == 1
    assert Finding.objects.get(pk=finding.pk).times_raised == 1


def test_a_tool_name_outside_the_mcp_rules_raises_one_finding_per_tool(
    live_server, token, inventory
):
    bad = "get\u202euser"  # a right-to-left override: renders as something else
    long_name = "x" * 129
    post(live_server, token, [call(tool=bad, time=ago(3)), call(tool=long_name), call()])
    violations = {f.dedup_key: f for f in findings("tool.name_violation")}
    assert set(violations) == {bad, long_name}
    tool = Tool.objects.get(server=inventory["listed"], name=bad)
    assert not tool.name_conforms
    assert violations[bad].object_id == str(tool.pk)
    assert violations[bad].severity == "warning"
    post(live_server, token, [call(tool=bad)])  # refreshed later, not duplicated
    assert len(findings("tool.name_violation")) == 2
    assert Finding.objects.get(pk=violations[bad].pk).details["calls"] == 2


@override_settings(FINDINGS_EVENT_RULES=False)
def test_with_the_event_rules_off_ingest_raises_nothing_and_derives_what_it_did_before(
    live_server, token, inventory
):
    post(live_server, token, [call(client=BLOCKED_AGENT, tool="new.tool")])
    assert not Finding.objects.exists()
    assert not Tool.objects.filter(name="new.tool").exists()
    # The client rollup is the activity report's too: kept whatever the rules' switch says.
    assert ClientRollupHourly.objects.get(client_ref=BLOCKED_AGENT).events == 1


def test_an_unblocked_client_clears_and_a_quiet_one_clears_after_the_quiet_period(
    live_server, token, inventory
):
    post(
        live_server,
        token,
        [call(client=BLOCKED_AGENT, time=ago(2)), call(server="io.github.gone/old", time=ago(2))],
    )
    client_finding, deleted_finding = (
        findings("access.blocked_client_called")[0],
        findings("server.deleted_but_called")[0],
    )
    Client.objects.filter(pk=inventory["client"].pk).update(review_status="approved")
    assert clear_quiet_event_findings(NOW) == {
        "access.blocked_client_called": 1,
        "access.blocked_server_called": 0,
        "server.deleted_but_called": 0,
        "tool.name_violation": 0,
    }
    client_finding.refresh_from_db()
    assert client_finding.status == "resolved" and client_finding.resolution == "cleared"
    assert client_finding.resolved_by == "rule"
    change = FindingChange.objects.get(finding=client_finding, action="cleared")
    assert change.actor == "rule" and "no longer blocked" in change.note
    # The deleted server was called two minutes ago: not quiet yet, quiet after 24 hours.
    assert clear_quiet_event_findings(NOW + timedelta(hours=23))[DELETED_KIND] == 0
    assert clear_quiet_event_findings(NOW + timedelta(hours=24, minutes=1))[DELETED_KIND] == 1
    deleted_finding.refresh_from_db()
    assert deleted_finding.status == "resolved"
    note = FindingChange.objects.get(finding=deleted_finding, action="cleared").note
    assert "24 h" in note
    # A call after the clearing opens a new finding: the old one stays in the history.
    post(live_server, token, [call(server="io.github.gone/old")])
    assert [f.status for f in findings(DELETED_KIND)] == ["resolved", "open"]


DELETED_KIND = "server.deleted_but_called"


def test_a_server_listed_again_clears_its_deleted_finding(live_server, token, inventory):
    post(live_server, token, [call(server="io.github.gone/old")])
    Server.objects.filter(pk=inventory["deleted"].pk).update(registry_status="active")
    assert clear_quiet_event_findings(NOW)[DELETED_KIND] == 1


def test_a_batch_of_tools_this_process_stored_within_the_minute_skips_the_tool_statement(
    live_server, token, inventory
):
    post(live_server, token, [call(tool="fetch_page", time=ago(1))])
    Tool.objects.filter(name="fetch_page").delete()  # behind the process's back
    post(live_server, token, [call(tool="fetch_page", time=ago(0.5))])
    assert not Tool.objects.filter(name="fetch_page").exists()  # remembered: skipped
    # An event earlier than the remembered ones, or a tool not seen yet: the statement runs.
    post(live_server, token, [call(tool="fetch_page", time=ago(2))])
    assert Tool.objects.filter(name="fetch_page").exists()
    post(live_server, token, [call(tool="fetch_page"), call(tool="open_page")])
    assert Tool.objects.filter(name="open_page").exists()


def test_a_batch_with_a_new_tool_reads_only_the_pairs_this_process_has_not_stored(
    live_server, token, inventory
):
    """A gateway's batch calls the same tools again and a new one now and then: the statement
    reads the new pair only (an index probe per pair was most of the rules' cost in ingest)."""
    post(live_server, token, [call(tool="fetch_page", time=ago(1))])
    Tool.objects.filter(name="fetch_page").delete()  # behind the process's back
    post(live_server, token, [call(tool="fetch_page", time=ago(0.5)), call(tool="open_page")])
    assert Tool.objects.filter(name="open_page").exists()  # the new pair was read
    assert not Tool.objects.filter(name="fetch_page").exists()  # the remembered one was not
    # fetch_page's from the first batch, and open_page's: nothing raised for the skipped pair
    assert sorted(f.object_repr for f in findings("tool.first_called")) == [
        "fetch_page",
        "open_page",
    ]


def test_a_remembered_tool_is_read_again_once_its_calls_outrun_what_was_stored():
    """Only the pairs a statement read are remembered: a fresh pair skipped in a batch keeps
    its entry, so later calls cannot push it ahead of the row's stored last call."""
    from audit.services import fresh_tools
    from audit.services.validation import STAGE_COLUMNS

    def row(tool, at):
        values = dict.fromkeys(STAGE_COLUMNS, "")
        values.update(time=at, server_name="io.github.acme/reports", tool=tool)
        return [values[c] for c in STAGE_COLUMNS]

    t0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    fresh_tools.forget()
    fresh_tools.remember(fresh_tools.stale_pairs([row("a", t0)]))  # stored up to t0
    batch = [row("a", t0 + timedelta(seconds=50)), row("b", t0 + timedelta(seconds=50))]
    stale = fresh_tools.stale_pairs(batch)
    assert list(stale) == [("io.github.acme/reports", "b")]  # "a" is within the minute
    fresh_tools.remember(stale)
    later = [row("a", t0 + timedelta(seconds=90))]  # past t0 + 1 min: "a" must be read now
    assert list(fresh_tools.stale_pairs(later)) == [("io.github.acme/reports", "a")]
    fresh_tools.forget()


def test_a_rule_the_admin_turned_off_resolves_its_open_findings_at_the_next_run(
    live_server, token, inventory
):
    post(live_server, token, [call(client=BLOCKED_AGENT), call(server="io.github.gone/old")])
    save_rule_overrides(
        "access.blocked_client_called", enabled=False, severity="high", thresholds={}
    )
    results = run_scheduled_rules(NOW)
    assert results["access.blocked_client_called"]["resolved"] == 1
    (finding,) = findings("access.blocked_client_called")
    assert finding.status == "resolved" and finding.resolved_by == "rule"
    change = FindingChange.objects.get(finding=finding, action="cleared")
    assert change.actor == "rule" and "rule disabled" in change.note
    # The other ingest rules are untouched.
    assert [f.status for f in findings(DELETED_KIND)] == ["open"]


def test_the_admins_severity_applies_to_the_open_findings_of_an_ingest_rule(
    live_server, token, inventory
):
    post(live_server, token, [call(server="io.github.gone/old")])
    save_rule_overrides(DELETED_KIND, enabled=True, severity="critical", thresholds={})
    assert run_scheduled_rules(NOW, kinds=[DELETED_KIND])[DELETED_KIND]["severity_set"] == 1
    (finding,) = findings(DELETED_KIND)
    assert finding.status == "open" and finding.severity == "critical"
    change = FindingChange.objects.get(finding=finding, action="severity")
    assert change.actor == "rule" and "critical" in change.note


def test_a_badly_named_tool_no_longer_called_clears_after_its_quiet_period(
    live_server, token, inventory
):
    post(live_server, token, [call(tool="bad name", time=ago(2))])
    (finding,) = findings("tool.name_violation")
    save_rule_overrides(
        "tool.name_violation", enabled=True, severity="warning", thresholds={"quiet_hours": 6}
    )
    kinds = ["tool.name_violation"]
    assert run_scheduled_rules(NOW + timedelta(hours=5), kinds=kinds)[kinds[0]]["resolved"] == 0
    assert run_scheduled_rules(NOW + timedelta(hours=6, minutes=1), kinds=kinds)[kinds[0]] == {
        "raised": 0,
        "resolved": 1,
        "severity_set": 0,
    }
    finding.refresh_from_db()
    assert finding.status == "resolved" and finding.resolution == "cleared"
    assert "No call for 6 h" in FindingChange.objects.get(finding=finding, action="cleared").note
    # tool.first_called is resolved by a person: the run leaves it open.
    assert [f.status for f in findings("tool.first_called")] == ["open"]
