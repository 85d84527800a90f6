"""`make run`'s launcher: serves the console and leaves nothing running after Ctrl-C."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest

from governance.platform import devdb

BASE_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, timeout: float = 120) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "launcher exited before serving"
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.5)
    raise AssertionError(f"{url} never answered")


def _stop_all(launcher: subprocess.Popen, pgdata) -> None:
    """After a failure (a timeout on a busy machine), stop what the launcher started, not just
    the launcher: killing it alone left its web server and workers running for the whole run."""
    if launcher.poll() is None:
        descendants = psutil.Process(launcher.pid).children(recursive=True)
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
        for child in descendants:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
    if devdb.is_running(pgdata):
        devdb.stop(pgdata)


@pytest.fixture
def launcher_dir():
    """A folder outside pytest's temporary root: the cluster runs as an unprivileged user who
    must traverse its parents, and pytest makes its root 0700 again whenever another test
    process (xdist) starts using it."""
    path = Path(tempfile.mkdtemp(prefix="mcpgov-launcher-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_launcher_serves_login_then_ctrl_c_stops_web_worker_beat_and_postgres(launcher_dir):
    tmp_path = launcher_dir
    port = _free_port()
    pgdata = tmp_path / "pg"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        PGDATA_DIR=str(pgdata),
        VAR_DIR=str(tmp_path / "var"),
        BIND=f"127.0.0.1:{port}",
        DEMO_DATA="0",
        CELERY_BROKER_URL="filesystem://",
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "governance.platform.launcher"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: a failed test can stop all it started
    )
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/healthz", launcher)
        assert health.json()["database"] == "ok"
        login = httpx.get(f"http://127.0.0.1:{port}/accounts/login/")
        assert login.status_code == 200 and "Log in" in login.text
        assert (tmp_path / "var" / "admin-password.txt").exists()
        spawned = psutil.Process(launcher.pid).children(recursive=True)
        assert len(spawned) >= 3  # web server, celery worker, celery beat (and their children)
        assert devdb.is_running(pgdata)

        launcher.send_signal(signal.SIGINT)
        output = launcher.communicate(timeout=60)[0].decode()
    finally:
        _stop_all(launcher, pgdata)
    assert launcher.returncode == 0, output
    time.sleep(0.5)
    alive = [p for p in spawned if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left running: {alive}"
    assert not devdb.is_running(pgdata)
    assert "Stopped." in output
    # The log-in hint names where it serves, and a normal stop logs no error (Celery's pool
    # processes used to be signalled under their parent: two ERROR lines on every stop).
    assert f"Log in at http://127.0.0.1:{port}/ as 'admin' with password" in output
    assert "ERROR" not in output, output


@pytest.mark.django_db
def test_the_first_start_password_is_printed_once_and_later_starts_name_only_the_file(
    settings, tmp_path
):
    from io import StringIO

    from django.core.management import call_command

    settings.VAR_DIR = tmp_path
    first, second = StringIO(), StringIO()
    call_command("bootstrap_console", "--no-demo", "--url", "http://10.0.0.5:9000/", stdout=first)
    call_command("bootstrap_console", "--no-demo", "--url", "http://10.0.0.5:9000/", stdout=second)
    password = (tmp_path / "admin-password.txt").read_text().split()[1]
    assert "Log in at http://10.0.0.5:9000/ as 'admin'" in first.getvalue()
    assert password in first.getvalue()
    assert password not in second.getvalue()
    assert "http://10.0.0.5:9000/" in second.getvalue()
    assert str(tmp_path / "admin-password.txt") in second.getvalue()
