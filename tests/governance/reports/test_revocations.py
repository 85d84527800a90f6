"""The revocations report: its counts are the revocation API's for the same filters, each
revocation comes with its steps, verification and residual window."""

from datetime import timedelta

import pytest

from governance.reports import catalog
from governance.reports.document import Figures, Table
from governance.reports.kinds import revocations
from tests.governance.containment.rows import revocation_row, step_row
from tests.ui_factories import T0

pytestmark = pytest.mark.django_db

PERIOD = {"period_start": T0 - timedelta(days=1), "period_end": T0 + timedelta(days=1)}


@pytest.fixture
def rows():
    done = revocation_row(
        proof="verified",
        residual=[{"what": "access tokens already issued", "until": "2026-11-01T13:00:03Z"}],
        residual_until=T0 + timedelta(hours=1, seconds=3),
    )
    step_row(done, 1, state="done", request_summary={"method": "DELETE", "status": 204})
    step_row(done, 2, kind="verify", operation="verify_absent", state="done", verified=True)
    failed = revocation_row(action="client", outcome="failed", status="failed", proof="")
    step_row(failed, 1, state="failed", error="403 insufficient scope")
    revocation_row(action="identity", outcome="partial", proof="not_verified")
    revocation_row(queued_at=T0 - timedelta(days=30))  # before the period
    return done


def _figures(report) -> dict:
    return {k: v for s in report.sections if isinstance(s, Figures) for k, v in s.items}


def _table(report, index) -> list[dict]:
    table = report.sections[index]
    assert isinstance(table, Table)
    return [dict(zip([c.key for c in table.columns], row, strict=True)) for row in table.rows]


def _api_count(api, **filters) -> int:
    response = api.get("/api/v1/revocations/", filters)
    assert response.status_code == 200, response.content
    return response.json()["count"]


def test_the_builder_is_registered_for_its_kind():
    assert catalog.BUILDERS["revocations"] is revocations.build


@pytest.mark.parametrize("filters", [{}, {"action": "grant"}, {"q": "laptop"}])
def test_counts_equal_the_revocation_apis_for_the_same_filters(rows, auditor_client, filters):
    figures = _figures(revocations.build({**PERIOD, **filters}))

    before = 1 if filters.get("action", "grant") == "grant" else 0  # the one before the period
    assert figures["Revocations"] == _api_count(auditor_client, **filters) - before
    assert figures["Done"] == _api_count(auditor_client, **filters, outcome="done") - before
    assert figures["Failed"] == _api_count(auditor_client, **filters, outcome="failed")
    assert figures["Verified"] == _api_count(auditor_client, **filters, proof="verified")
    assert figures["Not verified"] == _api_count(auditor_client, **filters, proof="not_verified")


def test_each_revocation_has_its_verification_and_residual_window(rows):
    report = revocations.build(PERIOD)
    by_id = {r["id"]: r for r in _table(report, report.primary_table)}

    done = by_id[rows.pk]
    assert done["proof"] == "verified" and done["outcome"] == "done"
    assert done["residual_hours"] == 1.0
    assert "access tokens already issued until 2026-11-01T13:00:03Z" in done["residual"]
    assert len(by_id) == 3


def test_each_step_is_listed_with_what_was_sent_and_verified(rows):
    report = revocations.build(PERIOD)
    steps = _table(report, 2)

    mine = [s for s in steps if s["revocation"] == rows.pk]
    assert [s["position"] for s in mine] == [1, 2]
    assert '"status": 204' in mine[0]["request"] and mine[1]["verified"] == "yes"
    assert any(s["error"] == "403 insufficient scope" for s in steps)


def test_the_report_names_the_removal_controls(rows):
    report = revocations.build(PERIOD)
    refs = {control.ref for control in report.controls}

    assert {"CC6.2", "CC6.3", "A.5.18", "AC-2"} <= refs
    assert all(section.controls for section in report.sections)
