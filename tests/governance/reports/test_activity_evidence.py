"""The activity evidence report: its counts are the audit API's for the same period and
filters, read from the hourly rollups; it names the chain verification covering the period,
the chain head and the retention in force."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import ChainHead
from audit.services.chain import verify_chain
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from governance.access.lists.filters import InvalidFilter
from governance.reports import catalog
from governance.reports.document import Chart, Figures, Table
from governance.reports.kinds import activity_evidence
from tests.ingest_helpers import iso, make_event

pytestmark = pytest.mark.django_db

END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
START = END - timedelta(hours=3)
BOB = {"id": "00u-bob", "type": "human", "idp": "https://idp.example.com"}
OTHER_CLIENT = {"id": "svc-etl", "name": "ETL"}


@pytest.fixture
def events():
    """Eight events in the period (success, errors, a denial; two identities, two clients)
    and two outside it."""
    source, _ = create_source(name="gw-evidence", retention_days=400)
    at = [START + timedelta(minutes=20 * i) for i in range(8)]
    batch = [
        make_event(time=iso(at[0])),
        make_event(time=iso(at[1]), tool="search"),
        make_event(time=iso(at[2]), outcome="error"),
        make_event(time=iso(at[3]), outcome="denied", actor=BOB),
        make_event(time=iso(at[4]), actor=BOB, client=OTHER_CLIENT),
        make_event(time=iso(at[5]), outcome="error", client=OTHER_CLIENT),
        make_event(time=iso(at[6]), tool="search", outcome="denied"),
        make_event(time=iso(at[7])),
        make_event(time=iso(START - timedelta(minutes=5))),  # before the period
        make_event(time=iso(END + timedelta(minutes=1))),  # after it
    ]
    result = ingest_events(source=source, events=batch)
    assert result.accepted == 10
    return source


def _api_count(api, **filters) -> int:
    params = {"since": iso(START), "until": iso(END), "limit": 500, **filters}
    response = api.get("/api/v1/audit-events/", params)
    assert response.status_code == 200, response.content
    assert response.json()["next"] is None
    return len(response.json()["results"])


def _build():
    return activity_evidence.build({"period_start": START, "period_end": END})


def _figures(report) -> dict:
    return {k: v for s in report.sections if isinstance(s, Figures) for k, v in s.items}


def _table(report, title: str) -> list[dict]:
    table = next(s for s in report.sections if isinstance(s, Table) and s.title == title)
    return [dict(zip([c.key for c in table.columns], row, strict=True)) for row in table.rows]


def test_the_builder_is_registered_for_its_kind():
    assert catalog.BUILDERS["activity_evidence"] is activity_evidence.build


def test_totals_errors_and_denials_equal_the_audit_apis_counts(events, auditor_client):
    figures = _figures(_build())

    assert figures["Events"] == _api_count(auditor_client) == 8
    assert figures["Errors"] == _api_count(auditor_client, outcome="error") == 2
    assert figures["Denials"] == _api_count(auditor_client, outcome="denied") == 2


def test_events_by_identity_client_tool_and_server_equal_the_apis_counts(events, auditor_client):
    report = _build()

    for row in _table(report, "Events by identity"):
        assert row["events"] == _api_count(auditor_client, identity=row["subject"])
    assert {r["subject"] for r in _table(report, "Events by identity")} == {"00u-alice", "00u-bob"}
    clients = {r["client_id"]: r for r in _table(report, "Events by client")}
    for client_id, row in clients.items():
        assert row["events"] == _api_count(auditor_client, client=client_id)
    assert clients["svc-etl"]["client"] == "ETL"  # ingest named it
    assert clients["svc-etl"]["errors"] == 1
    for row in _table(report, "Events by tool"):
        assert row["events"] == _api_count(auditor_client, tool=row["tool"])
    for row in _table(report, "Events, errors and denials by server"):
        assert row["events"] == _api_count(auditor_client, server=row["server"])
        assert row["denials"] == _api_count(auditor_client, server=row["server"], outcome="denied")


def test_counts_come_from_the_rollups_not_the_events(events):
    with CaptureQueriesContext(connection) as queries:
        _build()

    reads = [
        q["sql"]
        for q in queries.captured_queries
        if re.search(r'FROM "?audit_event"?(?![a-z_])', q["sql"])
    ]
    # The one read of the events table is the oldest event kept (an index's first entry).
    assert len(reads) == 1 and "LIMIT 1" in reads[0], reads


def test_an_intact_verification_after_the_period_covers_it_and_the_head_is_named(events):
    report = _build()
    assert _figures(report)["Period covered by an intact verification"] == "no"

    run = verify_chain(triggered_by="test")
    report = _build()

    figures = _figures(report)
    head = ChainHead.objects.get(pk=1)
    assert report.chain_head == {"seq": head.seq, "digest": head.digest} and head.seq >= 1
    assert figures["Chain head digest"] == head.digest
    assert figures["Period covered by an intact verification"] == "yes"
    assert f"#{run.pk}" in figures["Covering verification"]
    verifications = _table(report, "Chain verifications since the period began")
    assert [r["ok"] for r in verifications] == ["yes"]


def test_a_verification_that_found_the_chain_broken_does_not_cover_the_period(events):
    run = verify_chain(triggered_by="test")
    type(run).objects.filter(pk=run.pk).update(ok=False, problem="batch 1: content changed")

    figures = _figures(_build())

    assert figures["Period covered by an intact verification"] == "no"


def test_the_retention_in_force_is_each_sources_and_the_longest(events):
    create_source(name="gw-short", retention_days=30)
    report = _build()

    figures = _figures(report)
    assert figures["Events kept for (days, the longest of the sources')"] == 400
    by_source = {
        r["source"]: r["retention_days"] for r in _table(report, "Retention by event source")
    }
    assert by_source == {"gw-evidence": 400, "gw-short": 30}


def test_a_period_ending_before_it_starts_is_refused_by_name():
    with pytest.raises(InvalidFilter) as bad:
        activity_evidence.build({"period_start": END, "period_end": START})
    assert bad.value.param == "period_end"


def test_the_report_and_its_sections_name_the_logging_controls(events):
    report = _build()
    refs = {control.ref for control in report.controls}

    assert {"CC7.2", "A.8.15", "A.8.16", "AU-6", "AU-9", "AU-11", "10.2", "10.5.1"} <= refs
    assert all(section.controls for section in report.sections)


def test_events_per_day_lists_every_day_of_the_period_quiet_ones_too(events):
    start = END - timedelta(days=5)
    report = activity_evidence.build({"period_start": start, "period_end": END})
    chart = next(s for s in report.sections if isinstance(s, Chart))

    assert len(chart.labels) == (END.date() - start.date()).days + 1
    assert sum(chart.series["Events"]) == _figures(report)["Events"] == 9
    assert chart.series["Events"][0] == 0
