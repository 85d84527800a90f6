"""Tasks past their TTL: shown as expired (not running forever), counted apart, and flagged."""

from datetime import timedelta

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from governance.overview.queries import tasks_by_status
from inventory.models import Flag, Task
from inventory.services import entities
from inventory.services.flags import TASK_PAST_TTL
from inventory.tasks import flag_tasks_past_ttl
from tests.ui_factories import server, task

pytestmark = pytest.mark.django_db

HOUR_MS = 3_600_000


@pytest.fixture
def tasks():
    """A 60 s task started 7.5 h ago and still "working", a genuinely running one, an unlimited
    one, one with no TTL reported, and a completed one whose TTL has passed."""
    now, crm = timezone.now(), server("io.github.acme/crm")
    return {
        "stale": task("t-stale", server=crm, at=now - timedelta(hours=7.5), ttl_ms=60_000),
        "live": task("t-live", server=crm, at=now - timedelta(minutes=5), ttl_ms=HOUR_MS),
        "forever": _unlimited(task("t-forever", server=crm, at=now - timedelta(days=30))),
        "unknown": task("t-unknown", server=crm, at=now - timedelta(days=30)),
        "done": task(
            "t-done", server=crm, at=now - timedelta(days=2), ttl_ms=60_000, status="completed"
        ),
    }


def _unlimited(t):
    Task.objects.filter(pk=t.pk).update(ttl_unlimited=True)
    return Task.objects.get(pk=t.pk)


def _ids(rows):
    return {t.task_id for t in rows}


def test_a_task_past_its_ttl_is_expired_by_the_one_definition_in_sql_and_python(tasks):
    assert _ids(Task.objects.past_ttl()) == {"t-stale"}
    assert _ids(Task.objects.running()) == {"t-live", "t-forever", "t-unknown"}
    assert {t.task_id for t in Task.objects.all() if t.expired} == {"t-stale"}
    # At the instant the TTL runs out both agree that it has expired.
    live = tasks["live"]
    boundary = live.created_at + timedelta(milliseconds=live.ttl_ms)
    assert live.is_past_ttl(boundary) and Task.objects.past_ttl(boundary).filter(pk=live.pk)
    before = boundary - timedelta(microseconds=1)
    assert not live.is_past_ttl(before) and not Task.objects.past_ttl(before).filter(pk=live.pk)


def test_the_task_list_shows_it_expired_and_filters_running_and_expired_apart(
    tasks, live_server, viewer_client
):
    cookies = {"sessionid": viewer_client.cookies["sessionid"].value}
    with httpx.Client(base_url=live_server.url, cookies=cookies) as browser:
        listing = browser.get("/inventory/tasks/?q=t-stale").text
        running = browser.get("/inventory/tasks/?running=true").text
        expired = browser.get("/inventory/tasks/?expired=true").text
    assert 'class="badge b-expired"' in listing and 'class="badge b-working"' not in listing
    assert "t-stale" not in running and "t-live" in running and "t-forever" in running
    assert "t-stale" in expired and "t-live" not in expired and "t-done" not in expired


def test_the_task_page_says_it_expired_and_when(tasks, viewer_client):
    stale = viewer_client.get(reverse("inventory:task_detail", args=[tasks["stale"].pk]))
    live = viewer_client.get(reverse("inventory:task_detail", args=[tasks["live"].pk]))
    assert b'class="badge b-expired"' in stale.content and b"Past its TTL since" in stale.content
    assert b'class="badge b-working"' in live.content and b"Past its TTL" not in live.content


def test_the_overview_counts_expired_tasks_apart_from_running_ones(tasks, viewer_client):
    page = viewer_client.get("/").content.decode()
    assert '<span class="n">3</span>Running tasks' in page
    assert '<span class="n">1</span>Tasks past their TTL' in page
    counts = tasks_by_status()
    assert counts["expired"] == 1 and counts["working"] == 3 and counts["completed"] == 1


def test_the_api_gives_every_task_its_expired_state_and_filters_on_it(tasks, viewer_client):
    rows = viewer_client.get("/api/v1/tasks/?limit=50").json()["results"]
    by_id = {r["task_id"]: r for r in rows}
    assert by_id["t-stale"]["expired"] is True
    assert by_id["t-stale"]["effective_status"] == "expired"
    assert by_id["t-stale"]["status"] == "working"  # what the server last said, kept
    assert by_id["t-live"]["expired"] is False and by_id["t-live"]["effective_status"] == "working"
    assert by_id["t-forever"]["expires_at"] is None
    expired = viewer_client.get("/api/v1/tasks/?expired=true").json()["results"]
    assert [r["task_id"] for r in expired] == ["t-stale"]


def test_the_sweep_flags_each_expired_task_once_and_is_safe_to_run_twice(tasks):
    flag_tasks_past_ttl.apply()
    flag_tasks_past_ttl.apply()
    flags = Flag.objects.filter(kind=TASK_PAST_TTL, resolved_at__isnull=True)
    assert [(f.object_id, f.times_raised) for f in flags] == [(str(tasks["stale"].pk), 1)]
    assert "t-stale" in flags[0].summary and "working" in flags[0].summary


def test_the_flag_resolves_once_the_task_reports_a_terminal_status(tasks):
    flag_tasks_past_ttl.apply()
    entities.report_task_status(tasks["stale"], status="completed", at=timezone.now())
    result = flag_tasks_past_ttl.apply().result
    assert result["resolved"] == 1
    assert not Flag.objects.filter(kind=TASK_PAST_TTL, resolved_at__isnull=True).exists()
    assert not Task.objects.past_ttl().exists()


def test_the_demo_has_expired_tasks_and_genuinely_running_ones():
    from inventory.services.demo import build_demo

    build_demo(scale=0.2)
    assert Task.objects.past_ttl().exists() and Task.objects.running().exists()
