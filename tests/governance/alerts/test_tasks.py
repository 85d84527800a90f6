"""The engine's Celery tasks: registered under the names beat sends, beats that expire instead of
piling up in a stopped worker's queue, and one dispatch at a time."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings

from governance.alerts import delivery
from governance.celery import app
from tests.celery_worker import database_url
from tests.governance.alerts.engine_helpers import Recorder, destination, findings


def test_the_beat_sends_registered_tasks_that_expire():
    app.loader.import_default_modules()
    for entry in ("alerts-dispatch", "alerts-forward"):
        beat = settings.CELERY_BEAT_SCHEDULE[entry]
        assert beat["task"] in app.tasks
        assert beat["options"]["expires"] >= beat["schedule"]
    assert "governance.alerts.tasks.forward_events" in app.tasks


@pytest.mark.django_db
def test_a_dispatch_while_another_runs_returns_at_once():
    destination()
    findings(1)
    sent = Recorder()
    with psycopg.connect(database_url()) as other:  # another worker, mid-dispatch
        other.execute("SELECT pg_advisory_lock(%s)", [delivery.DISPATCH_LOCK])
        assert delivery.dispatch(transport=sent) == {"skipped": True}
        other.execute("SELECT pg_advisory_unlock(%s)", [delivery.DISPATCH_LOCK])  # it finished
    assert delivery.dispatch(transport=sent)["delivered"] == 1
