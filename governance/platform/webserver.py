"""The production web server: Granian (WSGI) with settings from the environment.

`python -m governance.platform.webserver [--bind HOST:PORT] [--access-log]` runs it; `make run`, the
ingest benchmark and the durability tests start the same command (`command()`), so what is
measured and tested is what runs in production.

Why Granian and not gunicorn: its HTTP handling is compiled (Rust) and hands each request to a
pool of Python threads per worker process; a request costs ~0.07 ms of server CPU where
gunicorn's threaded worker costs ~0.25 ms (docs/performance.md). That matters for MCP servers
that post one audit event per request. Threads also let concurrent one-event requests of a
process share one database commit (audit/services/group_commit.py). Request bodies are
streamed to the app (the ingest size limits apply while reading), chunked bodies arrive
de-chunked (`wsgi.input_terminated`), and idle keep-alive connections are kept.

| variable | default | meaning |
|---|---|---|
| WEB_BIND | 127.0.0.1:8000 | address (host:port) |
| WEB_WORKERS | CPU cores | worker processes |
| WEB_THREADS | 16 | Python threads per worker (requests handled at once) |
| WEB_BACKLOG | 1024 | connections waiting to be accepted |
| WEB_WORKER_LIFETIME_SECONDS | 0 | restart each worker after this long (0 = never) |
| WEB_WORKER_MAX_RSS_MB | 0 | restart a worker above this memory (0 = never) |
| WEB_GRACEFUL_TIMEOUT_SECONDS | 10 | how long stopping workers may finish their requests |

Each thread that stores a commit group keeps its own database connection (DB_CONN_MAX_AGE), so
size PostgreSQL for it: WEB_WORKERS x WEB_THREADS connections for the web server, plus the
Celery workers', must stay under `max_connections` (100 by default; 2 x 16 = 32 here).

Granian warns at start-up that 16 threads is many for few cores. It is meant: the threads
mostly wait for PostgreSQL, and the more requests a process holds at once, the larger its
commit groups (16 threads measured ~12% more one-event requests/s than 5 at 32 clients).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
BASE_DIR = Path(__file__).resolve().parents[2]


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def command(
    bind: str | None = None,
    *,
    workers: int | None = None,
    threads: int | None = None,
    access_log: bool = False,
    log_level: str = "info",
) -> list[str]:
    """The server's argv for `bind` (host:port), from the WEB_* environment variables."""
    host, _, port = (bind or os.environ.get("WEB_BIND", "127.0.0.1:8000")).rpartition(":")
    cmd = [
        str(BIN / "granian"),
        "--interface",
        "wsgi",
        "--no-ws",
        "--host",
        host.strip("[]") or "127.0.0.1",
        "--port",
        port,
        "--workers",
        str(workers or _int("WEB_WORKERS", os.cpu_count() or 1)),
        "--blocking-threads",
        str(threads or _int("WEB_THREADS", 16)),
        "--backlog",
        str(_int("WEB_BACKLOG", 1024)),
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        str(_int("WEB_GRACEFUL_TIMEOUT_SECONDS", 10)),
        "--log-level",
        log_level,
        "--working-dir",
        str(BASE_DIR),
    ]
    lifetime = _int("WEB_WORKER_LIFETIME_SECONDS", 0)
    if lifetime:
        cmd += ["--workers-lifetime", str(lifetime)]
    max_rss = _int("WEB_WORKER_MAX_RSS_MB", 0)
    if max_rss:
        cmd += ["--workers-max-rss", str(max_rss)]
    if access_log:
        cmd.append("--access-log")
    return [*cmd, "governance.wsgi:application"]


# PostgreSQL's default max_connections is 100; Celery and admin sessions need some too.
CONNECTION_WARNING_AT = 80


def connection_warning(cmd: list[str]) -> str | None:
    """A start-up warning when the web threads alone could open too many database connections."""
    workers = int(cmd[cmd.index("--workers") + 1])
    threads = int(cmd[cmd.index("--blocking-threads") + 1])
    if workers * threads <= CONNECTION_WARNING_AT:
        return None
    return (
        f"warning: {workers} workers x {threads} threads may hold {workers * threads} "
        "database connections (one per thread); raise PostgreSQL's max_connections or "
        "lower WEB_WORKERS / WEB_THREADS."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the console's web server (Granian).")
    parser.add_argument("--bind", help="host:port (default WEB_BIND or 127.0.0.1:8000)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    cmd = command(args.bind, access_log=args.access_log)
    warning = connection_warning(cmd)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
