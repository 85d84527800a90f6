"""The production web server (governance/webserver.py: Granian) as a test's HTTP server.

pytest-django's `live_server` runs Django's own WSGI handler; production runs Granian in front
of audit/wsgi_fast.py, a different request path for `POST /api/v1/events`. Hostile-input tests
post to both, so a defect of either path shows.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from governance import webserver

BASE_DIR = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_env() -> dict:
    """Environment pointing the server at the test database (not the one DATABASE_URL names)."""
    db = connection.settings_dict
    if settings.EMBEDDED_PGDATA is not None:
        return {"EMBEDDED_DB_NAME": db["NAME"], "PGDATA_DIR": str(settings.EMBEDDED_PGDATA)}
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return {"DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"}


class GranianServer:
    """Granian on an ephemeral 127.0.0.1 port, in its own process group (stopped as a whole)."""

    def __init__(self, *, workers: int = 1, threads: int = 4):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            webserver.command(f"127.0.0.1:{self.port}", workers=workers, threads=threads,
                              log_level="warning"),
            cwd=BASE_DIR, env={**os.environ, **_database_env()}, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503):
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the web server did not start")

    def stop(self) -> None:
        # SIGKILL: a graceful stop waits out idle keep-alive connections (~10 s per module),
        # and the test has read everything it needs from the database by now.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def granian(django_db_setup, django_db_blocker):
    """Granian serving the test database for a whole test module (import it to use it)."""
    server = GranianServer()
    yield server
    server.stop()


@pytest.fixture(params=["live_server", "granian"])
def base_url(request):
    """Each test using it runs against both servers."""
    return request.getfixturevalue(request.param).url
