"""The rule run as a Celery task: on a real worker, one run at a time, after IdP syncs and CIMD
crawls, and on beat's schedule."""

import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from governance.celery import app
from governance.containment import services as containment
from governance.containment.models import Revocation
from governance.findings.rules import LOCK_NAME, run_scheduled_rules_exclusively
from governance.findings.tasks import run_rules
from governance.idp.models import IdpSync
from governance.idp.sync import start_sync
from governance.platform import jobs
from inventory.models import Client, Finding, Grant, Server, Task
from tests.celery_worker import database_url
from tests.governance.containment.conftest import inventory
from tests.governance.containment.conftest import oauth_connection as connect
from tests.governance.containment.peer import RevocationPeer, grant_record
from tests.governance.idp.conftest import (  # noqa: F401 - fixtures used here
    grants_server,
    oauth_connection,
    quick_sync_settings,
)

WAIT_FOR_WORKER = 90  # a bound on a shared machine, not an assertion


def _blocked_client_with_a_grant():
    now = timezone.now()
    client = Client.objects.create(
        client_id="svc-blocked", review_status="blocked", first_seen=now, last_seen=now
    )
    Grant.objects.create(
        client=client, issuer="https://as.example", external_id="g-1", first_seen=now, last_seen=now
    )
    return client


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_task_runs_the_rules_on_a_real_worker(celery_worker):
    client = _blocked_client_with_a_grant()
    run_rules.delay()
    deadline = time.monotonic() + WAIT_FOR_WORKER
    while time.monotonic() < deadline and not Finding.objects.filter(
        kind="client.blocked_with_grants"
    ):
        time.sleep(0.3)
    finding = Finding.objects.get(kind="client.blocked_with_grants")
    assert finding.object_id == str(client.pk)
    assert "governance.findings.tasks.run_rules[" in celery_worker.log()


@pytest.mark.django_db(transaction=True)
def test_a_run_while_another_holds_the_lock_skips_and_leaves_the_work_to_it():
    _blocked_client_with_a_grant()
    with psycopg.connect(database_url().replace("postgres://", "postgresql://")) as other:
        other.execute("SELECT pg_advisory_lock(hashtext(%s))", [LOCK_NAME])
        assert run_scheduled_rules_exclusively() is None
        assert not Finding.objects.exists()
        other.execute("SELECT pg_advisory_unlock(hashtext(%s))", [LOCK_NAME])
    results = run_scheduled_rules_exclusively()
    assert results["client.blocked_with_grants"]["raised"] == 1
    # the lock was given back: the next run takes it again
    assert run_scheduled_rules_exclusively() is not None
    with connection.cursor() as cursor:
        # This database's only: parallel test processes (xdist) hold their own in theirs.
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        assert cursor.fetchone()[0] == 0


@pytest.fixture
def eager_tasks():
    """Tasks sent in this test run here, at once (the sync's queued run among them)."""
    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


@pytest.mark.django_db(transaction=True)
def test_an_idp_sync_that_brings_grants_of_a_blocked_client_raises_the_finding_at_once(
    grants_server,  # noqa: F811 - the fixture imported above
    eager_tasks,
):
    now = timezone.now()
    agent = Client.objects.create(
        client_id="agent-1", review_status="blocked", first_seen=now, last_seen=now
    )
    sync = start_sync(connection=oauth_connection(grants_server.url), enqueue=False)
    jobs.execute(IdpSync, sync.pk)
    assert IdpSync.objects.get(pk=sync.pk).status == "done"
    finding = Finding.objects.open().get(kind="client.blocked_with_grants")
    assert finding.object_id == str(agent.pk) and finding.details["grant_count"] > 0


def test_beat_runs_the_rules_every_interval():
    entry = settings.CELERY_BEAT_SCHEDULE["findings-run-rules"]
    assert entry["task"] == run_rules.name == "governance.findings.tasks.run_rules"
    assert entry["schedule"] == settings.FINDINGS_RULES_INTERVAL_SECONDS


@pytest.fixture
def revocation_peer():
    server = RevocationPeer([grant_record("g-1"), grant_record("g-2")]).start()
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_a_revocation_leaving_a_task_running_raises_the_finding_as_it_finishes(
    admin_user, revocation_peer, eager_tasks, settings
):
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
    peer = revocation_peer
    connect(peer.url, grants_url=f"{peer.url}/admin/grants")
    rows = inventory(peer.url, ["g-1", "g-2"])
    now = timezone.now()
    crm = Server.objects.create(name="io.example/crm", first_seen=now, last_seen=now)
    task = Task.objects.create(
        task_id="t-1",
        server=crm,
        grant=Grant.objects.get(external_id="g-1"),
        status="working",
        first_seen=now,
        last_seen=now,
    )
    revocation = containment.start_revocation(
        actor=admin_user,
        action="identity_client",
        identity=rows.alice,
        client=rows.agent,
        reason="offboarding",
        enqueue=False,
    )
    assert jobs.execute(Revocation, revocation.pk) == "done"
    finding = Finding.objects.open().get(kind="task.running_after_revocation")
    assert finding.object_id == str(task.pk)
