"""Reconciling a rule's findings with what holds now: open, refresh, resolve, few statements."""

from datetime import UTC, datetime, timedelta

import pytest

from inventory.models import Finding, FindingChange
from inventory.services.finding_reconcile import reconcile, resolve_all

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
KIND = "grant.dormant"


def _row(object_id: str, **extra) -> dict:
    return {
        "object_type": "inventory.grant",
        "object_id": object_id,
        "object_repr": f"grant {object_id}",
        "dedup_key": "",
        "summary": f"Grant {object_id} unused",
        "details": {"grant_ids": [int(object_id)]},
        "severity": None,
        **extra,
    }


def _run(rows, at=T0, **kw):
    return reconcile(
        KIND, severity="warning", rows=rows, cleared="the grant was used", now=at, **kw
    )


def _open(object_id: str) -> Finding:
    return Finding.objects.open().get(kind=KIND, object_id=object_id)


def test_rows_that_hold_open_findings_and_holding_again_refreshes_them():
    assert _run([_row("1"), _row("2")]) == {"raised": 2, "refreshed": 0, "resolved": 0}
    later = T0 + timedelta(hours=1)
    counts = _run([_row("1", summary="Grant 1 unused for longer", details={"days": 91})], at=later)
    assert counts == {"raised": 0, "refreshed": 1, "resolved": 1}
    one = _open("1")
    assert (one.raised_at, one.last_raised_at, one.times_raised) == (T0, later, 2)
    assert one.summary == "Grant 1 unused for longer" and one.details == {"days": 91}
    assert one.severity == "warning" and one.status == "open"


def test_a_finding_whose_condition_cleared_is_resolved_by_the_rule_and_history_says_why():
    _run([_row("1"), _row("2")])
    _run([_row("1")], at=T0 + timedelta(minutes=5))
    gone = Finding.objects.get(kind=KIND, object_id="2")
    assert (gone.status, gone.resolution, gone.resolved_by) == ("resolved", "cleared", "rule")
    assert gone.resolved_at == T0 + timedelta(minutes=5)
    change = FindingChange.objects.filter(finding=gone).order_by("id").last()
    assert (change.actor, change.action) == ("rule", "cleared")
    assert change.note == "condition cleared: the grant was used"
    assert gone.notices.filter(reason="resolved").exists()


def test_acknowledged_and_suppressed_findings_keep_their_status_when_refreshed():
    _run([_row("1"), _row("2")])
    Finding.objects.filter(object_id="1").update(status="acknowledged")
    Finding.objects.filter(object_id="2").update(
        status="suppressed", suppressed_until=T0 + timedelta(days=7)
    )
    counts = _run([_row("1"), _row("2")], at=T0 + timedelta(minutes=5))
    assert counts["refreshed"] == 2
    assert _open("1").status == "acknowledged" and _open("2").status == "suppressed"
    assert _open("2").times_raised == 2


def test_a_condition_that_holds_again_after_clearing_opens_a_new_finding():
    _run([_row("1")])
    _run([], at=T0 + timedelta(minutes=5))
    assert _run([_row("1")], at=T0 + timedelta(minutes=10))["raised"] == 1
    assert Finding.objects.filter(kind=KIND, object_id="1").count() == 2


def test_a_higher_severity_on_refresh_escalates_and_leaves_a_notice():
    _run([_row("1")])
    _run([_row("1", severity="high")], at=T0 + timedelta(minutes=5))
    finding = _open("1")
    assert finding.severity == "high"
    assert list(finding.notices.values_list("reason", flat=True)) == ["opened", "escalated"]


def test_findings_of_other_kinds_are_left_alone():
    reconcile("grant.broad_scopes", severity="warning", rows=[_row("1")], cleared="-", now=T0)
    _run([])
    assert Finding.objects.open().filter(kind="grant.broad_scopes").count() == 1


def test_a_rule_resolved_by_a_person_is_not_cleared_when_rows_stop_holding():
    _run([_row("1")])
    assert _run([], clear=False)["resolved"] == 0
    assert _open("1")


def test_a_selected_set_is_reconciled_the_same_way_and_resolve_all_clears_everything():
    sql = """SELECT 'inventory.grant', n::text, 'g' || n, '', 'Grant ' || n, '{}'::jsonb, NULL
             FROM generate_series(1, %(count)s) n"""
    counts = reconcile(KIND, severity="info", sql=sql, params={"count": 500}, cleared="-", now=T0)
    assert counts == {"raised": 500, "refreshed": 0, "resolved": 0}
    assert resolve_all(KIND, why="rule disabled", now=T0)["resolved"] == 500
    note = FindingChange.objects.filter(action="cleared").values_list("note", flat=True).first()
    assert note == "condition cleared: rule disabled"


def test_duplicate_rows_for_one_subject_count_once():
    assert _run([_row("1"), _row("1", summary="again")])["raised"] == 1
