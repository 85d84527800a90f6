"""A real Celery worker process for integration tests (importable by any test module).

    # the `celery_worker` fixture is registered for every test by the root conftest.py
    @pytest.mark.django_db(transaction=True)
    def test_something(celery_worker): ...

The worker runs `celery -A governance worker` in a subprocess with a filesystem broker under
the test's tmp_path, pointed at the test database (so tests must commit: transaction=True).
Tasks sent by the test process during the test go to that worker instead of running eagerly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from kombu import pools as kombu_pools

BASE_DIR = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60  # seconds for the worker to boot on a busy 2-core machine


def database_url() -> str:
    """A DATABASE_URL for the database this test process uses (unix socket or TCP).

    Under the embedded cluster HOST is its socket directory: percent-encoded here, dj-database-url
    decodes it back to the path, so a child process reaches the same cluster and database.
    """
    from django.db import connection

    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = quote(db.get("HOST") or "", safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    # OPTIONS (sslmode, ...) came from DATABASE_URL's query string: give them back the same way.
    options = f"?{urlencode(db['OPTIONS'])}" if db.get("OPTIONS") else ""
    return f"postgres://{user}{password}@{host}{port}/{quote(db['NAME'], safe='')}{options}"


def worker_env(var_dir: Path, extra: dict | None = None) -> dict:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "governance.settings",
            "DATABASE_URL": database_url(),
            "DB_CONN_MAX_AGE": "0",
            "VAR_DIR": str(var_dir),
            "SECRET_KEY": settings.SECRET_KEY,
            "FIELD_ENCRYPTION_KEY": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "FETCH_ALLOWLIST": ",".join(settings.FETCH_ALLOWLIST or ["127.0.0.1"]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def _point_producer_at(broker_dir: Path) -> dict:
    """Make this process send tasks to the worker's broker directory; returns the old config."""
    from governance.celery import app

    old = {
        "broker_transport_options": dict(app.conf.broker_transport_options or {}),
        "task_always_eager": app.conf.task_always_eager,
    }
    app.conf.broker_transport_options = {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "control_folder": str(broker_dir / "control"),
        "store_processed": False,
    }
    app.conf.task_always_eager = False
    _reset_pools(app)
    return old


def _reset_pools(app) -> None:
    """Drop pooled broker connections and producers: they would still use the old folders.

    kombu keeps its pools in process-wide registries keyed by the connection's settings:
    closing our pool without clearing them would hand the closed pool back the next time those
    settings are used ("Acquire on closed pool" in a later test)."""
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    kombu_pools.reset()


class Worker:
    """The running worker: its process and its log (to prove a task ran there)."""

    def __init__(self, process: subprocess.Popen, log_path: Path):
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text()


def _wait_ready(process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_path.read_text()[-3000:]}")
        if "ready." in log_path.read_text():
            return
        time.sleep(0.2)
    raise RuntimeError(
        f"celery worker not ready in {READY_TIMEOUT}s:\n{log_path.read_text()[-3000:]}"
    )


def start_worker(var_dir: Path, log_path: Path) -> subprocess.Popen:
    """`celery -A governance worker` (solo pool) on the filesystem broker under `var_dir`,
    logging to `log_path`; a second call on the same `var_dir` starts a second worker on the
    same broker (the one that takes a message the sweeper re-sends)."""
    with open(log_path, "w") as log_file:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "governance",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BASE_DIR,
            env=worker_env(var_dir),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def celery_worker(tmp_path, transactional_db):
    """A running `celery -A governance worker` (solo pool) for this test; stopped after it."""
    from governance.celery import app

    var_dir = tmp_path / "worker-var"
    broker_dir = var_dir / "broker"
    for sub in ("queue", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / "celery-worker.log"
    process = start_worker(var_dir, log_path)
    old = _point_producer_at(broker_dir)
    try:
        _wait_ready(process, log_path)
        yield Worker(process, log_path)
    finally:
        # SIGKILL, not a warm shutdown: the test has read what it needs, the broker is a
        # throwaway folder, and a warm stop of the solo worker costs ~4 s per test.
        process.kill()
        process.wait()
        for key, value in old.items():
            setattr(app.conf, key, value)
        _reset_pools(app)
