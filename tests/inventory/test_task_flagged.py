"""A task is "flagged" while it has an open Flag: the task list's filter, the API's and the
overview's count all say so, whatever raised the flag, and stop saying so once it is resolved."""

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.overview.queries import overview_counts
from inventory.services.flags import TASK_PAST_TTL, resolve_open_flags
from inventory.tasks import flag_tasks_past_ttl
from tests.ui_factories import server, task

pytestmark = pytest.mark.django_db


def test_a_task_past_its_ttl_is_flagged_in_the_list_the_api_and_the_overview(viewer_client):
    crm = server("io.github.acme/crm")
    task("t-stale", server=crm, at=timezone.now() - timedelta(hours=2), ttl_ms=60_000)
    task("t-live", server=crm, at=timezone.now(), ttl_ms=3_600_000)
    flag_tasks_past_ttl()
    page = viewer_client.get("/inventory/tasks/", {"flagged": "true"}).content.decode()
    api = viewer_client.get("/api/v1/tasks/", {"flagged": "true"}).json()
    assert "t-stale" in page and "t-live" not in page
    assert [row["task_id"] for row in api["results"]] == ["t-stale"]
    assert overview_counts()["flagged_tasks"] == 1


def test_a_task_whose_flag_is_resolved_is_no_longer_flagged(viewer_client):
    stale = task(
        "t-stale",
        server=server("io.github.acme/crm"),
        at=timezone.now() - timedelta(hours=2),
        ttl_ms=60_000,
    )
    flag_tasks_past_ttl()
    resolve_open_flags(stale, [TASK_PAST_TTL], by="ada-admin")
    page = viewer_client.get("/inventory/tasks/", {"flagged": "true"}).content.decode()
    assert "t-stale" not in page and overview_counts()["flagged_tasks"] == 0
    assert (
        "t-stale" in viewer_client.get("/inventory/tasks/", {"flagged": "false"}).content.decode()
    )


def test_the_flagged_badge_on_the_list_and_the_task_page_follows_its_open_flags(viewer_client):
    crm = server("io.github.acme/crm")
    stale = task("t-stale", server=crm, at=timezone.now() - timedelta(hours=2), ttl_ms=60_000)
    flag_tasks_past_ttl()
    badge = '<span class="badge b-flagged"'
    listed = viewer_client.get("/inventory/tasks/").content.decode()
    assert badge in listed
    assert badge in viewer_client.get(f"/inventory/tasks/{stale.pk}/").content.decode()
    assert badge in viewer_client.get(f"/inventory/servers/{crm.pk}/").content.decode()
    resolve_open_flags(stale, [TASK_PAST_TTL], by="ada-admin")
    assert badge not in viewer_client.get("/inventory/tasks/").content.decode()
    assert badge not in viewer_client.get(f"/inventory/tasks/{stale.pk}/").content.decode()
