"""Triage services: each action changes the status the database allows, the trigger's history
row names who and why, an admin action is recorded, and what does not apply is refused (one) or
skipped and counted (bulk)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.access.models import AdminAction
from governance.findings import services
from inventory.models import Finding

pytestmark = pytest.mark.django_db


def _changes(finding):
    return list(finding.changes.order_by("id").values_list("actor", "action", "note"))


def test_acknowledging_records_who_and_why_in_the_history_and_the_admin_actions(
    raise_finding, admin_user
):
    finding = raise_finding()
    services.acknowledge(finding, user=admin_user, note="looking into it, SEC-12")
    finding.refresh_from_db()
    assert finding.status == "acknowledged"
    assert finding.acknowledged_by == "ada-admin" and finding.acknowledged_at is not None
    assert _changes(finding) == [
        ("rule", "opened", ""),
        ("ada-admin", "acknowledged", "looking into it, SEC-12"),
    ]
    record = AdminAction.objects.get(action="finding.acknowledged")
    assert record.actor_repr == "ada-admin"
    assert record.object_id == str(finding.pk) and record.note == "looking into it, SEC-12"


def test_a_resolved_finding_cannot_reopen_and_the_condition_returning_opens_a_new_one(
    raise_finding, admin_user
):
    finding = raise_finding()
    services.resolve(finding, user=admin_user, note="grants revoked by hand")
    assert (finding.status, finding.resolution, finding.resolved_by) == (
        "resolved",
        "manual",
        "ada-admin",
    )
    assert finding.resolution_note == "grants revoked by hand"
    with pytest.raises(services.NotApplicable) as refused:
        services.reopen(finding, user=admin_user)
    assert refused.value.field == "status" and "resolved" in refused.value.message
    again = raise_finding()
    assert again.pk != finding.pk and again.status == "open"


def test_suppressing_needs_an_end_in_the_future_and_a_reason(raise_finding, admin_user):
    finding = raise_finding()
    soon = timezone.now() + timedelta(days=3)
    for options, field in (
        ({"until": None, "reason": "known"}, "until"),
        ({"until": timezone.now() - timedelta(minutes=1), "reason": "known"}, "until"),
        ({"until": soon, "reason": "  "}, "reason"),
    ):
        with pytest.raises(services.TriageError) as bad:
            services.suppress(finding, user=admin_user, **options)
        assert bad.value.field == field
    services.suppress(finding, user=admin_user, until=soon, reason="vendor fix on Friday")
    assert finding.status == "suppressed" and finding.suppressed_until == soon
    assert _changes(finding)[-1] == ("ada-admin", "suppressed", "vendor fix on Friday")
    assert not Finding.objects.needs_attention().filter(pk=finding.pk).exists()


def test_a_suppression_past_its_end_needs_attention_again_and_can_be_reopened(
    raise_finding, admin_user
):
    finding = raise_finding()
    services.suppress(
        finding, user=admin_user, until=timezone.now() + timedelta(hours=1), reason="window"
    )
    Finding.objects.filter(pk=finding.pk).update(
        suppressed_until=timezone.now() - timedelta(minutes=1)
    )
    assert Finding.objects.needs_attention().filter(pk=finding.pk).exists()
    services.reopen(finding, user=admin_user, note="window over")
    assert finding.status == "open" and finding.suppressed_until is None


def test_assigning_and_unassigning_are_in_the_history_with_the_usernames(
    raise_finding, admin_user, viewer
):
    finding = raise_finding()
    services.assign(finding, user=admin_user, assignee=viewer)
    services.assign(finding, user=admin_user, assignee=None, note="back to the pool")
    finding.refresh_from_db()
    assert finding.assignee is None
    history = list(finding.changes.filter(action="assigned").values_list("from_value", "to_value"))
    assert history == [("", "vera-viewer"), ("vera-viewer", "")]
    with pytest.raises(services.NotApplicable):  # nobody again: no change to make
        services.assign(finding, user=admin_user, assignee=None)


def test_bulk_changes_those_it_applies_to_in_one_record_and_counts_the_skipped(
    raise_finding, admin_user, blocked_client
):
    one, two = raise_finding(dedup_key="1"), raise_finding(dedup_key="2")
    done = raise_finding(dedup_key="3")
    services.resolve(done, user=admin_user)
    result = services.bulk(
        "acknowledge", [one.pk, two.pk, done.pk, 987654], user=admin_user, note="triage day"
    )
    assert (result.done, result.skipped) == (2, 2)
    assert result.message() == (
        "2 findings acknowledged; 2 skipped (the action does not apply to their status)."
    )
    assert set(Finding.objects.filter(status="acknowledged").values_list("pk", flat=True)) == {
        one.pk,
        two.pk,
    }
    record = AdminAction.objects.filter(action="finding.acknowledged").get()
    assert record.after["findings"] == [one.pk, two.pk]
    for finding in (one, two):
        assert _changes(finding)[-1] == ("ada-admin", "acknowledged", "triage day")


def test_bulk_refuses_an_empty_selection_and_an_unknown_action(admin_user):
    with pytest.raises(services.TriageError) as empty:
        services.bulk("acknowledge", [], user=admin_user)
    assert empty.value.field == "ids"
    with pytest.raises(services.TriageError) as unknown:
        services.bulk("delete", [1], user=admin_user)
    assert unknown.value.field == "action"


def test_the_database_refuses_a_suppression_without_an_end_and_a_resolution_without_a_time(
    raise_finding,
):
    finding = raise_finding()
    for values in ({"status": "suppressed"}, {"status": "resolved"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Finding.objects.filter(pk=finding.pk).update(**values)
