"""The production web server (governance/platform/webserver.py: Granian) for integration tests.

    web = WebServer()            # against this test's database
    httpx.get(f"{web.url}/healthz")
    web.kill()

It runs in its own process group, so kill() (SIGKILL) takes the Granian master and its workers.
It uses the database this test process uses (embedded cluster or DATABASE_URL), so tests that
post to it must commit: django_db(transaction=True).

pytest-django's `live_server` runs Django's own WSGI handler; production runs Granian in front
of audit/wsgi_fast.py, a different request path for `POST /api/v1/events`. The `granian` and
`base_url` fixtures below (registered for every test by the root conftest.py) let a test
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

from governance.platform import webserver
from tests.celery_worker import database_url

BASE_DIR = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60  # seconds, on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(extra: dict | None = None) -> dict:
    """The environment of a server process: this test's database, secrets and settings."""
    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": ",".join(settings.FIELD_ENCRYPTION_KEYS),
    }
    env.update(extra or {})
    return env


class WebServer:
    """The production web server on a free port of 127.0.0.1, in its own process group."""

    def __init__(
        self, *, workers: int = 2, threads: int = 4, env: dict | None = None, port: int = 0
    ):
        # `port`: one chosen beforehand (free_port()), when a peer must know the URL first.
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            webserver.command(
                f"127.0.0.1:{self.port}", workers=workers, threads=threads, log_level="warning"
            ),
            cwd=BASE_DIR,
            env=server_env(env),
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the web server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503):
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.kill()
        raise RuntimeError("the web server did not start")

    def kill(self) -> None:
        # SIGKILL: a graceful stop waits out idle keep-alive connections (~10 s per module),
        # and a test has read everything it needs from the database by now.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def granian(django_db_setup, django_db_blocker):
    """One Granian worker serving the test database for a whole test module (import it)."""
    server = WebServer(workers=1)
    yield server
    server.kill()


@pytest.fixture(params=["live_server", "granian"])
def base_url(request):
    """Each test using it runs against both servers."""
    return request.getfixturevalue(request.param).url
