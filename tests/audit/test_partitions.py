"""Partitions: made ahead and on demand; retention drops whole months; the admin is read-only."""

from datetime import UTC, datetime, timedelta

import pytest

from audit.models import (
    AuditEvent,
    ChainVerification,
    ClientRollupHourly,
    EventBatch,
    EventRollupHourly,
    EventSource,
    IdentityRollupHourly,
    ServerRollupHourly,
)
from audit.services import partitions
from audit.services.chain import verify_chain
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from audit.tasks import apply_retention, ensure_partitions
from tests.ingest_helpers import iso, make_event

pytestmark = pytest.mark.django_db


def month_start(dt):
    return dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def test_partitions_are_created_ahead_and_the_task_is_safe_to_run_twice():
    first = ensure_partitions()
    assert ensure_partitions() == first
    now = datetime.now(UTC)
    assert first[0] == f"audit_event_p{now:%Y%m}" and len(first) == 3
    assert {name for name, _ in partitions.list_partitions()} >= set(first)


def test_partitions_made_ahead_carry_over_the_year_end(monkeypatch):
    class MidDecember(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2030, 12, 15, tzinfo=UTC)

    monkeypatch.setattr(partitions, "datetime", MidDecember)
    names = partitions.ensure_ahead(months=2)
    assert names == ["audit_event_p203012", "audit_event_p203101", "audit_event_p203102"]
    assert {name for name, _ in partitions.list_partitions()} >= set(names)


def test_the_beat_schedule_makes_partitions_ahead_seals_and_applies_retention():
    from audit import tasks
    from governance.celery import app

    schedule = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert {tasks.ensure_partitions.name, tasks.seal_chain.name, tasks.apply_retention.name} <= set(
        schedule
    )
    # Made ahead well before a new month: an hourly run has weeks of slack at the default.
    assert schedule[tasks.ensure_partitions.name] <= 24 * 3600


def test_retention_drops_only_months_older_than_every_sources_retention():
    now = datetime.now(UTC)
    short, _ = create_source(name="gw-short", retention_days=30)
    long, _ = create_source(name="gw-long", retention_days=150)
    old = month_start(now - timedelta(days=200)) + timedelta(days=3)
    mid = month_start(now - timedelta(days=100)) + timedelta(days=3)
    ingest_events(source=short, events=[make_event(id="old", time=iso(old))])
    ingest_events(source=long, events=[make_event(id="mid", time=iso(mid))])
    dropped = apply_retention()
    assert f"audit_event_p{old:%Y%m}" in dropped
    assert f"audit_event_p{mid:%Y%m}" not in dropped
    assert list(AuditEvent.objects.values_list("event_id", flat=True)) == ["mid"]
    # A retry of the dropped event is still a duplicate: dedup keys outlive partitions.
    result = ingest_events(source=short, events=[make_event(id="old", time=iso(old))])
    assert result.duplicates == 1 and result.accepted == 0


def test_retention_drops_the_rollups_hours_with_the_months_it_drops():
    """Counts must not outlive the events they count: the overview's figures (rollups) and the
    explorer's rows (events) agree for every hour that is left."""
    source, _ = create_source(name="gw-long", retention_days=150)
    now = datetime.now(UTC)
    old = month_start(now - timedelta(days=200)) + timedelta(days=3)
    mid = month_start(now - timedelta(days=150)) + timedelta(hours=1)  # the cutoff's month: kept
    for event_id, time in (("old", old), ("mid", mid)):
        ingest_events(source=source, events=[make_event(id=event_id, time=iso(time))])
    rollups = (EventRollupHourly, ServerRollupHourly, IdentityRollupHourly, ClientRollupHourly)
    hour = {"old": old.replace(minute=0), "mid": mid.replace(minute=0)}
    for model in rollups:
        assert set(model.objects.values_list("hour", flat=True)) == set(hour.values()), model
    apply_retention()
    assert list(AuditEvent.objects.values_list("event_id", flat=True)) == ["mid"]
    for model in rollups:
        assert list(model.objects.values_list("hour", flat=True)) == [hour["mid"]], model


def test_retention_keeps_a_month_holding_events_still_inside_a_sources_retention():
    """The month is past the short source's retention and only partly past the long one's:
    it holds events the long-retention source still keeps, so it stays."""
    long, _ = create_source(name="gw-long", retention_days=150)
    short, _ = create_source(name="gw-short", retention_days=10)
    kept = month_start(datetime.now(UTC) - timedelta(days=200)) + timedelta(days=20)
    earlier = kept - timedelta(days=10)
    ingest_events(source=short, events=[make_event(id="short", time=iso(earlier))])
    ingest_events(source=long, events=[make_event(id="kept", time=iso(kept))])
    # Retention runs when `kept` is 149 days old: the cutoff is the day before, in its month.
    dropped = partitions.apply_retention(now=kept + timedelta(days=149))
    assert f"audit_event_p{kept:%Y%m}" not in dropped
    assert set(AuditEvent.objects.values_list("event_id", flat=True)) == {"short", "kept"}


def test_an_event_for_a_dropped_month_recreates_its_partition():
    now = datetime.now(UTC)
    source, _ = create_source(name="gw-x", retention_days=10)
    old = month_start(now - timedelta(days=120)) + timedelta(days=2)
    ingest_events(source=source, events=[make_event(time=iso(old))])
    EventSource.objects.update(retention_days=10)
    apply_retention()
    assert ingest_events(source=source, events=[make_event(time=iso(old))]).accepted == 1


def test_the_admin_cannot_add_change_or_delete_events_or_their_chain_records(
    admin_client_, admin_user
):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    source, _ = create_source(name="gw-admin")
    ingest_events(source=source, events=[make_event()])
    verify_chain()
    for model in (AuditEvent, EventBatch, ChainVerification):
        obj = model.objects.get()
        url = f"/admin/audit/{model._meta.model_name}/"
        assert admin_client_.get(url).status_code == 200
        assert admin_client_.get(f"{url}add/").status_code == 403
        assert admin_client_.post(f"{url}{obj.pk}/change/", {}).status_code == 403, model
        response = admin_client_.post(f"{url}{obj.pk}/delete/", {"post": "yes"})
        assert response.status_code == 403, model
        admin_client_.post(
            url, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
        )
        assert model.objects.filter(pk=obj.pk).exists(), model
