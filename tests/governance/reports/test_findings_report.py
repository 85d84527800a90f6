"""The findings report: opened and resolved in the period, time to resolve by severity, open
ones by age; its counts are the findings API's for the same filters."""

from datetime import UTC, datetime, timedelta

import pytest

from governance.reports import catalog
from governance.reports.document import Chart, Figures, Table
from governance.reports.kinds import findings as findings_report
from inventory.models import Finding

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC)
PERIOD = {"period_start": NOW - timedelta(days=30), "period_end": NOW + timedelta(minutes=1)}


def _finding(n, *, raised_days_ago, resolved_after_hours=None, severity="high", kind="a.rule"):
    raised = NOW - timedelta(days=raised_days_ago)
    resolved = {}
    if resolved_after_hours is not None:
        resolved = {
            "status": "resolved",
            "resolved_at": raised + timedelta(hours=resolved_after_hours),
            "resolution": "manual",
        }
    return Finding.objects.create(
        kind=kind,
        severity=severity,
        object_type="inventory.client",
        object_id=str(n),
        summary=f"finding {n}",
        raised_at=raised,
        last_raised_at=raised,
        **resolved,
    )


@pytest.fixture
def rows():
    _finding(1, raised_days_ago=2, resolved_after_hours=2)
    _finding(2, raised_days_ago=3, resolved_after_hours=4)
    _finding(3, raised_days_ago=4, resolved_after_hours=10)
    _finding(4, raised_days_ago=0.5)  # open, under a day
    _finding(5, raised_days_ago=10, severity="critical", kind="b.rule")  # open, 7-30 days
    _finding(6, raised_days_ago=100, severity="warning")  # open, opened before the period
    _finding(7, raised_days_ago=200, resolved_after_hours=24 * 100, severity="info")  # neither


def _figures(report) -> dict:
    return {k: v for s in report.sections if isinstance(s, Figures) for k, v in s.items}


def _table(report, title) -> list[dict]:
    table = next(s for s in report.sections if isinstance(s, Table) and s.title.startswith(title))
    return [dict(zip([c.key for c in table.columns], row, strict=True)) for row in table.rows]


def _api_count(api, **filters) -> int:
    response = api.get("/api/v1/findings/", filters)
    assert response.status_code == 200, response.content
    return response.json()["count"]


def _api_open_count(api, **filters) -> int:
    """The report's "open now" is every finding not resolved: the API's count per such status."""
    not_resolved = ("open", "acknowledged", "suppressed")
    return sum(_api_count(api, **filters, status=status) for status in not_resolved)


def test_the_builder_is_registered_for_its_kind():
    assert catalog.BUILDERS["findings"] is findings_report.build


@pytest.mark.parametrize("filters", [{}, {"severity": "high"}, {"kind": "b.rule"}])
def test_open_counts_equal_the_findings_apis_for_the_same_filters(rows, auditor_client, filters):
    figures = _figures(findings_report.build({**PERIOD, **filters}))

    assert figures["Open now"] == _api_open_count(auditor_client, **filters)
    for severity in ("critical", "high", "warning", "info"):
        if filters.get("severity", severity) != severity:
            continue
        expected = _api_open_count(auditor_client, **{**filters, "severity": severity})
        assert figures[f"Open now: {severity}"] == expected


def test_opened_and_resolved_count_the_period_only(rows):
    figures = _figures(findings_report.build(PERIOD))

    assert figures["Opened"] == 5 and figures["Resolved"] == 3
    listed = {r["summary"] for r in _table(findings_report.build(PERIOD), "Findings opened")}
    assert listed == {f"finding {n}" for n in (1, 2, 3, 4, 5)}


def test_time_to_resolve_is_the_median_and_p90_per_severity(rows):
    by_severity = {r["severity"]: r for r in _table(findings_report.build(PERIOD), "Time to")}

    assert by_severity["high"]["resolved"] == 3
    assert by_severity["high"]["median_hours"] == 4.0
    assert by_severity["high"]["p90_hours"] == pytest.approx(8.8)
    assert by_severity["critical"] == {
        "severity": "critical",
        "resolved": 0,
        "median_hours": None,
        "p90_hours": None,
    }


def test_open_findings_are_bucketed_by_age_and_counted_by_kind(rows):
    report = findings_report.build(PERIOD)
    chart = next(s for s in report.sections if isinstance(s, Chart))
    ages = dict(zip(chart.labels, chart.series["Open findings"], strict=True))

    assert ages == {
        "under 1 day": 1,
        "1 to 7 days": 0,
        "7 to 30 days": 1,
        "30 to 90 days": 0,
        "90 days or more": 1,
    }
    kinds = {r["kind"]: r for r in _table(report, "By kind")}
    assert (kinds["a.rule"]["opened"], kinds["a.rule"]["resolved"]) == (4, 3)
    assert kinds["b.rule"]["open"] == 1


def test_the_report_names_the_monitoring_controls(rows):
    report = findings_report.build(PERIOD)
    refs = {control.ref for control in report.controls}

    assert {"CC7.2", "CC7.3", "A.8.16", "AU-6"} <= refs
    assert all(section.controls for section in report.sections)
