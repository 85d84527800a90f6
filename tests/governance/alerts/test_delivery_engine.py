"""The delivery engine with a recording transport: a storm becomes one message with a count, a
refreshed finding is no new alert, groups wait out their intervals and repeat while findings stay
open, filters choose what each destination hears."""

from __future__ import annotations

import pytest

from governance.alerts import delivery
from governance.alerts.delivery import dispatch, flush_groups, route_notices
from governance.alerts.models import AlertGroup, Delivery
from governance.alerts.sending import send_due
from inventory.models import Finding, FindingNotice
from inventory.services.flags import raise_flag
from inventory.services.rule_settings import save_rule_overrides
from tests.governance.alerts.engine_helpers import Recorder, destination, findings, later

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent():
    return Recorder()


def test_a_storm_of_500_findings_of_one_kind_is_one_message_with_the_count(sent):
    destination()
    findings(500)

    outcome = dispatch(transport=sent)

    assert outcome["routed"] == 500 and outcome["flushed"] == 1 and outcome["delivered"] == 1
    [(name, message)] = sent.sent
    body = message.body["data"]
    assert name == "siem" and message.event_type == "findings.opened"
    assert (body["count"], body["firing"], body["more"]) == (500, 500, 480)
    assert len(body["findings"]) == delivery.MAX_LISTED
    assert body["labels"] == {"kind": "access.used_after_revocation"}
    first = body["findings"][0]
    assert set(first) >= {
        "id",
        "kind",
        "severity",
        "summary",
        "object_type",
        "object_id",
        "object_repr",
        "raised_at",
        "last_raised_at",
        "times_raised",
        "url",
    }
    assert first["url"].startswith("http") and str(first["id"]) in first["url"]
    assert message.subject.startswith("500 findings open")
    assert message.idempotency_key == Delivery.objects.get().idempotency_key
    assert not FindingNotice.objects.filter(routed_at__isnull=True).exists()


def test_a_refreshed_open_finding_is_not_a_new_alert(sent):
    destination()
    raise_flag(
        kind="grant.dormant",
        object_type="inventory.grant",
        object_id="1",
        summary="dormant",
        severity="high",
    )
    dispatch(transport=sent)
    raise_flag(
        kind="grant.dormant",
        object_type="inventory.grant",
        object_id="1",
        summary="dormant",
        severity="high",
    )  # seen again: times seen 2

    dispatch(transport=sent)
    flush_groups(later(10_000))  # past every interval but the repeat
    send_due(transport=sent, now=later(10_000))  # what a new alert would have queued goes now

    assert len(sent.sent) == 1 and Delivery.objects.count() == 1
    assert Finding.objects.get().times_raised == 2


def test_findings_after_a_message_wait_for_the_group_interval(sent):
    destination(group_interval_seconds=300)
    findings(2)
    dispatch(transport=sent)
    findings(3, prefix="d")  # the same group, a minute later

    route_notices()
    assert flush_groups(later(60)) == 0  # within the group interval: held
    assert flush_groups(later(301)) == 1
    send_due(transport=sent, now=later(301))

    assert [b["data"]["count"] for b in sent.bodies] == [2, 3]


def test_a_group_with_open_findings_repeats_after_the_repeat_interval_without_the_closed_ones(sent):
    destination(repeat_interval_seconds=3600)
    first, second, third = findings(3)
    dispatch(transport=sent)
    Finding.objects.filter(pk=second.pk).update(status="acknowledged")
    resolve_open_flags_by_pk(third.pk)
    route_notices()  # the resolution's notice: this destination does not send resolved

    assert flush_groups(later(1800)) == 0
    assert flush_groups(later(3601)) == 1
    send_due(transport=sent, now=later(3601))

    repeat = sent.sent[-1][1]
    assert repeat.event_type == "findings.repeat"
    assert [f["id"] for f in repeat.body["data"]["findings"]] == [first.pk]


def test_no_repeat_once_every_finding_of_the_group_is_closed(sent):
    destination(repeat_interval_seconds=3600)
    [only] = findings(1)
    dispatch(transport=sent)
    resolve_open_flags_by_pk(only.pk)
    route_notices()

    flush_groups(later(3601))
    send_due(transport=sent, now=later(3601))

    assert len(sent.sent) == 1
    assert AlertGroup.objects.get().notified_ids == []


def test_filters_choose_severity_kind_and_enabled_destinations(sent):
    destination("critical-only", min_severity="critical")
    destination("tasks", min_severity="info", kinds=["task.past_ttl"])
    destination("off", enabled=False, min_severity="info")
    destination("no-findings", send_findings=False, min_severity="info")
    findings(2, severity="high")
    findings(1, kind="task.past_ttl", severity="warning", prefix="t")
    findings(1, severity="critical", prefix="x")

    dispatch(transport=sent)

    heard = {name: m.body["data"]["count"] for name, m in sent.sent}
    assert heard == {"critical-only": 1, "tasks": 1}


def test_grouping_by_object_and_one_message_per_finding(sent):
    destination("by-object", group_by="object")
    destination("alone", group_by="none")
    findings(3)

    dispatch(transport=sent)

    counts = sorted((name, m.body["data"]["count"]) for name, m in sent.sent)
    assert counts == [("alone", 1)] * 3 + [("by-object", 1)] * 3


def test_acknowledged_and_suppressed_findings_are_not_sent(sent):
    destination()
    a, b, c = findings(3)
    Finding.objects.filter(pk=a.pk).update(status="acknowledged")
    Finding.objects.filter(pk=b.pk).update(status="suppressed", suppressed_until=later(3600))

    dispatch(transport=sent)

    [(_, message)] = sent.sent
    assert [f["id"] for f in message.body["data"]["findings"]] == [c.pk]


def test_a_finding_resolved_before_its_first_message_is_never_sent(sent):
    destination(send_resolved=True, group_wait_seconds=30)
    [gone] = findings(1)
    route_notices()
    resolve_open_flags_by_pk(gone.pk)

    dispatch(transport=sent)
    flush_groups(later(31))
    send_due(transport=sent, now=later(31))

    assert sent.sent == [] and not Delivery.objects.exists()


def test_a_resolution_reaches_destinations_that_send_resolved_after_the_opening(sent):
    destination("tells-resolved", send_resolved=True, group_interval_seconds=60)
    destination("quiet", group_interval_seconds=60)
    [only] = findings(1)
    dispatch(transport=sent)
    resolve_open_flags_by_pk(only.pk)

    route_notices()
    flush_groups(later(61))
    send_due(transport=sent, now=later(61))

    resolved = [(name, m.event_type) for name, m in sent.sent[2:]]
    assert resolved == [("tells-resolved", "findings.resolved")]
    assert sent.sent[-1][1].body["data"]["resolved"] == 1


def test_an_escalated_finding_is_sent_again(sent):
    destination(min_severity="critical", group_interval_seconds=0)
    raise_flag(
        kind="grant.dormant",
        object_type="inventory.grant",
        object_id="1",
        summary="dormant",
        severity="high",
    )
    dispatch(transport=sent)
    assert sent.sent == []  # high: below this destination's floor

    raise_flag(
        kind="grant.dormant",
        object_type="inventory.grant",
        object_id="1",
        summary="dormant",
        severity="critical",
    )
    dispatch(transport=sent)

    [(_, message)] = sent.sent
    assert message.severity == "critical"


def resolve_open_flags_by_pk(pk: int) -> None:
    """The rule no longer sees it (the trigger writes the resolution's notice)."""
    Finding.objects.filter(pk=pk).update(
        status="resolved", resolved_at=later(0), resolution="cleared", resolved_by="rule"
    )


def test_routed_notices_are_pruned_after_a_week_and_unrouted_ones_never():
    findings(3)
    route_notices()
    findings(1, prefix="new")  # not routed yet
    old, recent, _ = FindingNotice.objects.filter(routed_at__isnull=False).order_by("id")
    FindingNotice.objects.filter(pk=old.pk).update(routed_at=later(-8 * 86400))
    FindingNotice.objects.filter(pk=recent.pk).update(routed_at=later(-6 * 86400))

    assert delivery.prune_notices() == 1
    assert not FindingNotice.objects.filter(pk=old.pk).exists()
    assert FindingNotice.objects.filter(routed_at__isnull=True).count() == 1


def test_a_rule_the_admin_turned_off_is_not_sent_even_before_its_findings_resolve(sent):
    destination("siem", min_severity="info")
    save_rule_overrides(
        "access.used_after_revocation", enabled=False, severity="high", thresholds={}
    )
    findings(2)  # raised by the ingest path, which does not read the settings
    findings(1, kind="task.past_ttl", prefix="t")

    dispatch(transport=sent)

    assert [
        (m.body["data"]["count"], m.body["data"]["findings"][0]["kind"]) for _, m in sent.sent
    ] == [(1, "task.past_ttl")]
