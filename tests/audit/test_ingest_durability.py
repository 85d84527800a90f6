"""An acknowledged batch survives kill -9 of the web server and a PostgreSQL restart or crash.

Runs the production web server (governance/platform/webserver.py: Granian) as a subprocess
against the test database (tests/web_server.py).
"""

import httpx
import orjson
import pytest
from django.conf import settings
from django.db import connection

from audit.models import AuditEvent
from audit.services.sources import create_source
from governance.platform import devdb
from tests.ingest_helpers import make_event
from tests.web_server import WebServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def server():
    started = []

    def start():
        started.append(WebServer())
        return started[-1]

    yield start
    for proc in started:
        proc.kill()


def post(server, token, events):
    return httpx.post(
        f"{server.url}/api/v1/events",
        content=orjson.dumps(events),
        timeout=60,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def test_an_acknowledged_batch_survives_kill_9_of_the_web_server(server):
    _, token = create_source(name="gw-durable")
    events = [make_event() for _ in range(200)]
    web = server()
    response = post(web, token, events)
    web.kill()  # SIGKILL the whole process group right after the 2xx
    assert response.status_code == 200 and response.json()["accepted"] == 200
    assert AuditEvent.objects.filter(event_id__in=[e["id"] for e in events]).count() == 200
    again = post(server(), token, events).json()  # the client's retry after the crash
    assert (again["accepted"], again["duplicates"]) == (0, 200)


# Restarting the cluster would cut the other test processes' connections: `make test` runs the
# tests marked `exclusive` after the parallel run, alone.
@pytest.mark.exclusive
@pytest.mark.skipif(settings.EMBEDDED_PGDATA is None, reason="needs the embedded cluster")
@pytest.mark.parametrize("how", ["restart", "crash"])
def test_an_acknowledged_batch_survives_a_postgresql_restart_or_crash(server, how):
    _, token = create_source(name=f"gw-pg-{how}")
    events = [make_event() for _ in range(200)]
    web = server()
    response = post(web, token, events)
    if how == "restart":
        devdb.restart(settings.EMBEDDED_PGDATA)
    else:  # immediate stop = crash: no checkpoint, recovery replays the WAL
        devdb.stop(settings.EMBEDDED_PGDATA, mode="immediate")
        devdb.ensure_running(settings.EMBEDDED_PGDATA, fast_and_unsafe=True)
    assert response.status_code == 200 and response.json()["accepted"] == 200
    connection.close()  # our own connection died with the server
    assert AuditEvent.objects.filter(event_id__in=[e["id"] for e in events]).count() == 200
    web.kill()
