"""IdP syncs on a real Celery worker: one started from the service runs there, and one whose
worker is killed mid-sync is recovered by the sweeper and finished by the next run."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from governance.idp.models import IdpSync
from governance.idp.sync import start_sync
from governance.platform import jobs
from inventory.models import Grant
from tests.fetch_server import wait_until
from tests.governance.idp.conftest import oauth_connection

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAIT_FOR_WORKER = 90  # generous: the machine is shared; a bound, not an assertion


def wait_for(sync: IdpSync, condition) -> IdpSync:
    deadline = time.monotonic() + WAIT_FOR_WORKER
    while time.monotonic() < deadline:
        sync.refresh_from_db()
        if condition(sync):
            return sync
        time.sleep(0.2)
    return sync


@pytest.fixture
def small_pages(monkeypatch):
    """The worker writes every 2 records (so progress shows mid-sync); set before it starts."""
    monkeypatch.setenv("IDP_SYNC_PAGE_SIZE", "2")


def test_a_sync_started_from_the_service_runs_on_a_real_worker(grants_server, celery_worker):
    connection = oauth_connection(grants_server.url)

    sync = wait_for(start_sync(connection=connection, full=True), lambda s: not s.is_open)

    assert sync.status == "done", sync.error_log
    assert (sync.seen, sync.created, sync.attempts) == (25, 25, 1)
    assert Grant.objects.filter(issuer="https://as.example").count() == 25
    # The worker logs "succeeded" once the task returns, a moment after the row says done.
    assert wait_until(lambda: "succeeded" in celery_worker.log(), timeout=30)
    assert "governance.run_idp_sync[" in celery_worker.log()


def test_a_sync_whose_worker_is_killed_is_recovered_and_finished_by_a_rerun(
    grants_server, small_pages, celery_worker
):
    grants_server.page_size = 2
    grants_server.page_delay = 0.3  # 13 slow pages: time to kill the worker mid-sync
    connection = oauth_connection(grants_server.url)
    sync = start_sync(connection=connection, full=True)
    sync = wait_for(sync, lambda s: s.seen >= 4 or not s.is_open)
    assert sync.status == "running" and sync.seen < 25

    celery_worker.process.kill()  # SIGKILL: no goodbye, the row stays "running"
    celery_worker.process.wait()
    IdpSync.objects.filter(pk=sync.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    swept = jobs.sweep(IdpSync)
    jobs.execute(IdpSync, sync.pk)  # the next worker to take the re-sent message

    sync.refresh_from_db()
    assert swept["requeued"] == 1
    assert sync.status == "done", sync.error_log
    assert sync.attempts == 2
    assert "worker went silent" in sync.error_log[0]["message"]
    assert Grant.objects.filter(issuer="https://as.example").count() == 25
    assert not Grant.objects.filter(vanished_at__isnull=False).exists()
