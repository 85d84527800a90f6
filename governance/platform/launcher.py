"""`make run`: embedded PostgreSQL, migrate, first-start set-up, then web + Celery worker + beat.

Ctrl-C (or SIGTERM) stops every child process group and then the embedded PostgreSQL, so
nothing is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from governance.platform import devdb, webserver

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def _children_commands(bind: str) -> dict[str, list[str]]:
    return {
        "web": webserver.command(bind, access_log=True),
        "worker": [
            str(BIN / "celery"),
            "-A",
            "governance",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
        ],
        "beat": [str(BIN / "celery"), "-A", "governance", "beat", "--loglevel", "INFO"],
    }


def _manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, check=True)


def _stop_all(children: dict[str, subprocess.Popen]) -> None:
    # SIGTERM to each main process only: it stops its own children in order (Celery's warm
    # shutdown). Signalling the whole group made Celery's pool processes die under it, which it
    # logs as two ERROR lines on every normal stop. The group is killed only as a last resort,
    # and after a clean exit for anything the main process left behind.
    for proc in children.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc, signal.SIGKILL)
        proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    embedded = not os.environ.get("DATABASE_URL")
    pgdata = None
    started = time.monotonic()
    if embedded:
        pgdata = Path(os.environ.get("PGDATA_DIR", devdb.DEFAULT_PGDATA)).resolve()
        print(f"Starting embedded PostgreSQL ({pgdata})...", flush=True)
        devdb.ensure_running(pgdata)
        devdb.ensure_database(os.environ.get("EMBEDDED_DB_NAME", "mcpgov"), pgdata)
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        _manage("migrate", "--noinput")
        demo = os.environ.get("DEMO_DATA", "1") not in {"0", "false", "no"}
        bind = os.environ.get("BIND", "127.0.0.1:8000")
        _manage("bootstrap_console", "--url", f"http://{bind}/", *([] if demo else ["--no-demo"]))
        for name, cmd in _children_commands(bind).items():
            # Own process group each, so Ctrl-C reaches us first and we stop them in order.
            children[name] = subprocess.Popen(cmd, cwd=BASE_DIR, start_new_session=True)
        print(
            f"Console ready at http://{bind}/ after {time.monotonic() - started:.1f}s "
            f"(Ctrl-C stops everything).",
            flush=True,
        )
        while not stopping:
            for name, proc in children.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping.", flush=True)
                    stopping = True
            time.sleep(0.5)
    except subprocess.CalledProcessError as exc:
        print(f"Set-up step failed: {exc}", file=sys.stderr)
        return 1
    finally:
        print("Stopping web, worker and beat...", flush=True)
        _stop_all(children)
        if embedded and pgdata is not None:
            print("Stopping embedded PostgreSQL...", flush=True)
            devdb.stop(pgdata)
        print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
