"""Crawl jobs: one open crawl per target, claimed once, progress, sweeper recovery, beat."""

import time
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.access.models import AdminAction
from governance.platform import jobs
from inventory.models import Crawl, Registry
from inventory.services.crawls import (
    CrawlLost,
    Progress,
    claim,
    execute_crawl,
    open_crawl,
    register_runner,
    start_crawl,
    sweep_crawls,
)
from inventory.services.registry import start_due_registry_crawls

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Celery messages sent for crawls (ids), instead of running them."""
    ids = []
    monkeypatch.setattr(jobs.kind_of(Crawl), "enqueue", ids.append)
    return ids


@pytest.fixture
def test_runner():
    """A runner for a test-only kind, so real runners (CIMD, OAuth metadata) stay untouched."""
    calls = []

    def runner(crawl, progress):
        calls.append(crawl.pk)
        progress.page()
        progress.record(5)
        if crawl.target.endswith("/boom"):
            raise ValueError("the server sent nonsense")

    register_runner("test-kind", runner)
    yield calls
    jobs.kind_of(Crawl).runners.pop("test-kind", None)


def test_the_database_refuses_a_second_open_crawl_of_the_same_target():
    now = timezone.now()
    Crawl.objects.create(kind="registry", target="https://r.example", queued_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Crawl.objects.create(
            kind="registry", target="https://r.example", queued_at=now, status="running"
        )


def test_a_finished_crawl_does_not_block_the_next_one():
    now = timezone.now()
    Crawl.objects.create(kind="registry", target="https://r.example", queued_at=now, status="done")
    Crawl.objects.create(kind="registry", target="https://r.example", queued_at=now)
    assert Crawl.objects.count() == 2


def test_starting_a_crawl_twice_returns_the_open_one_and_sends_one_message(
    sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = start_crawl(kind="registry", target="https://r.example")
        second = start_crawl(kind="registry", target="https://r.example")
    assert first.pk == second.pk
    assert sent == [first.pk]


def test_the_message_is_sent_only_after_the_transaction_commits(
    sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        start_crawl(kind="registry", target="https://r.example")
    assert sent == [] and len(callbacks) == 1


def test_an_admin_starting_a_crawl_is_recorded(sent, admin_user):
    crawl = start_crawl(kind="registry", target="https://r.example", actor=admin_user)
    action = AdminAction.objects.get(action="crawl.started")
    assert action.object_id == str(crawl.pk) and action.actor == admin_user
    assert crawl.requested_by == admin_user.username


def test_two_runs_of_one_crawl_run_it_once(test_runner):
    crawl, _ = open_crawl(kind="test-kind", target="https://mcp.example/mcp")
    assert execute_crawl(crawl.pk) == "done"
    assert execute_crawl(crawl.pk) == "not-claimed"
    assert test_runner == [crawl.pk]
    crawl.refresh_from_db()
    assert (crawl.status, crawl.pages, crawl.records, crawl.attempts) == ("done", 1, 5, 1)
    assert crawl.finished_at and crawl.started_at


def test_only_one_of_two_claims_wins():
    crawl, _ = open_crawl(kind="registry", target="https://r.example")
    assert claim(crawl.pk) is not None
    assert claim(crawl.pk) is None


def test_a_runner_error_fails_the_crawl_with_the_message_and_counts(test_runner):
    crawl, _ = open_crawl(kind="test-kind", target="https://mcp.example/boom")
    assert execute_crawl(crawl.pk) == "failed"
    crawl.refresh_from_db()
    assert crawl.status == "failed" and crawl.records == 5 and crawl.errors == 1
    assert "the server sent nonsense" in crawl.error_log[-1]["message"]


def test_a_kind_without_a_runner_fails_instead_of_hanging(monkeypatch):
    crawl, _ = open_crawl(kind="cimd", target="https://client.example/cimd.json")
    monkeypatch.setattr(jobs.kind_of(Crawl), "runners", {})
    execute_crawl(crawl.pk)
    crawl.refresh_from_db()
    assert crawl.status == "failed" and "no runner" in crawl.error_log[-1]["message"]


def test_progress_is_visible_while_the_crawl_runs():
    crawl, _ = open_crawl(kind="registry", target="https://r.example")
    crawl = claim(crawl.pk)
    progress = Progress(crawl, interval=0)
    progress.page()
    progress.record(100)
    progress.error("item 3 skipped")
    row = Crawl.objects.get(pk=crawl.pk)
    assert (row.pages, row.records, row.errors) == (1, 100, 1)
    assert row.error_log[0]["message"] == "item 3 skipped"


def test_a_worker_that_lost_its_crawl_cannot_write_to_it():
    crawl, _ = open_crawl(kind="registry", target="https://r.example")
    mine = claim(crawl.pk)
    Crawl.objects.filter(pk=crawl.pk).update(status="queued", run_token=None)  # sweeper took it
    with pytest.raises(CrawlLost):
        Progress(mine, interval=0).record(1)


def test_the_sweeper_resends_a_queued_crawl_whose_message_was_lost(sent):
    old = timezone.now() - timedelta(minutes=30)
    lost = Crawl.objects.create(
        kind="registry", target="https://a.example", queued_at=old, enqueued_at=old
    )
    fresh = Crawl.objects.create(
        kind="registry",
        target="https://b.example",
        queued_at=timezone.now(),
        enqueued_at=timezone.now(),
    )
    assert sweep_crawls()["resent"] == 1
    assert sent == [lost.pk] and fresh.pk not in sent
    assert sweep_crawls()["resent"] == 0  # not resent again on the next sweep


def test_the_sweeper_requeues_a_crawl_whose_worker_went_silent_and_it_then_runs(sent, test_runner):
    crawl, _ = open_crawl(kind="test-kind", target="https://mcp.example/mcp")
    claim(crawl.pk)
    Crawl.objects.filter(pk=crawl.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert sweep_crawls()["requeued"] == 1
    crawl.refresh_from_db()
    assert crawl.status == "queued" and "went silent" in crawl.error_log[-1]["message"]
    assert sent == [crawl.pk]
    assert execute_crawl(crawl.pk) == "done"
    crawl.refresh_from_db()
    assert crawl.attempts == 2


def test_the_sweeper_fails_a_crawl_that_went_silent_too_often(sent, settings):
    settings.CRAWL_MAX_ATTEMPTS = 1
    crawl, _ = open_crawl(kind="registry", target="https://r.example")
    claim(crawl.pk)
    Crawl.objects.filter(pk=crawl.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert sweep_crawls()["failed"] == 1
    crawl.refresh_from_db()
    assert crawl.status == "failed" and crawl.finished_at and sent == []


def test_the_sweeper_leaves_a_crawl_with_a_live_heartbeat_alone(sent):
    crawl, _ = open_crawl(kind="registry", target="https://r.example")
    claim(crawl.pk)
    assert sweep_crawls() == {"resent": 0, "requeued": 0, "failed": 0}
    assert Crawl.objects.get(pk=crawl.pk).status == "running"


def test_beat_queues_only_enabled_registries_whose_interval_has_elapsed(sent):
    due = Registry.objects.create(name="due", base_url="https://due.example")
    recent = Registry.objects.create(name="recent", base_url="https://recent.example")
    Registry.objects.create(name="off", base_url="https://off.example", enabled=False)
    Crawl.objects.create(
        kind="registry",
        target=recent.base_url,
        registry=recent,
        status="done",
        queued_at=timezone.now() - timedelta(minutes=5),
    )
    Crawl.objects.create(
        kind="registry",
        target=due.base_url,
        registry=due,
        status="done",
        queued_at=timezone.now() - timedelta(minutes=61),
    )
    started = start_due_registry_crawls()
    assert [Crawl.objects.get(pk=pk).registry for pk in started] == [due]


def test_the_beat_schedule_has_registries_cimd_and_the_sweeper():
    from governance.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {
        "inventory.crawl_due_registries",
        "inventory.crawl_cimd_documents",
        "platform.sweep_jobs",
    } <= tasks


@pytest.mark.django_db(transaction=True)
def test_a_runner_busy_between_progress_calls_still_beats(settings):
    settings.CRAWL_HEARTBEAT_SECONDS = 0.05
    beats = []

    def slow_runner(crawl, progress):
        first = Crawl.objects.get(pk=crawl.pk).heartbeat_at
        for _ in range(200):  # a bounded wait for the heartbeat thread, not a timing assertion
            if Crawl.objects.get(pk=crawl.pk).heartbeat_at != first:
                beats.append(True)
                return
            time.sleep(0.05)

    register_runner("test-slow", slow_runner)
    try:
        crawl, _ = open_crawl(kind="test-slow", target="https://slow.example/mcp")
        assert execute_crawl(crawl.pk) == "done"
    finally:
        jobs.kind_of(Crawl).runners.pop("test-slow", None)
    assert beats == [True]
