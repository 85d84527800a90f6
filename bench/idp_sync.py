"""IdP sync benchmark: grants from a local `oauth`-kind grants_url, unlimited and rate limited.

Measures, against grant servers in their own processes (tests/fixtures/grants_server.py, so
they do not share the sync's GIL), through the real runner (connector, safe fetcher, ledger):
  - a first sync of G grants over U users into an empty ledger (no rate limit);
  - a re-sync with nothing changed (content hashes: no row written; target >= 5x faster);
  - a re-sync against a peer limited to N requests/s (Okta-style X-Rate-Limit headers): the
    time against the floor (pages / N; target within 1.2x) and the 429s it collected (target:
    at most one per limit window). A re-sync, so the database is not what is measured here;
  - the process's peak RSS (ru_maxrss) before the first sync and after all of them.

    .venv/bin/python bench/idp_sync.py [--grants 100000] [--users 10000] [--rate 20]

With DATABASE_URL set, it uses that PostgreSQL server and a throwaway database
`mcpgov_bench_idp` on it; otherwise its own embedded cluster under var/pgbench, like
bench/registry.py. Either way it never touches `make run`'s data.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratchdb import fresh_database  # noqa: E402 - the bench folder, just put on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
os.environ.setdefault("PGDATA_DIR", str(BASE_DIR / "var" / "pgbench"))
os.environ.setdefault("FETCH_ALLOWLIST", "127.0.0.1")
os.environ.setdefault("LOG_LEVEL", "WARNING")
BENCH_DB = "mcpgov_bench_idp"
PAGE_SIZE = 200  # grants per page the peer serves


def start_peer(grants: int, users: int, rate: int = 0) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fixtures.grants_server",
            f"--grants={grants}",
            f"--users={users}",
            f"--page-size={PAGE_SIZE}",
            f"--rate={rate}",
        ],
        cwd=BASE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().strip()


def stop_peer(proc: subprocess.Popen) -> dict:
    """Stop a peer; what it counted ({"requests", "statuses"})."""
    proc.stdin.close()
    stats = orjson.loads(proc.stdout.readline() or "{}")
    proc.wait(timeout=30)
    return stats


def bare_fetch(url: str) -> float:
    """Seconds to fetch and parse every page (httpx, one keep-alive connection, no database):
    what any sync that re-reads the IdP cannot go below."""
    started, page = time.perf_counter(), url
    with httpx.Client(timeout=30) as client:
        while page:
            body = orjson.loads(client.get(page).content)
            page = httpx.URL(url).join(body["next"]) if body.get("next") else None
    return time.perf_counter() - started


def timed_sync(connection, *, full=True):
    # After django.setup() in main(): models need the app registry.
    from governance.idp.models import IdpSync
    from governance.idp.sync import start_sync
    from governance.platform import jobs

    sync = start_sync(connection=connection, full=full, requested_by="bench", enqueue=False)
    started = time.perf_counter()
    jobs.execute(IdpSync, sync.pk)
    elapsed = time.perf_counter() - started
    sync.refresh_from_db()
    assert sync.status == "done", sync.error_log
    return elapsed, sync


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=20, help="requests/s of the limited peer")
    args = parser.parse_args()

    started_db = fresh_database(BENCH_DB)
    fast, fast_url = start_peer(args.grants, args.users)
    slow, slow_url = start_peer(args.grants, args.users, rate=args.rate)
    try:
        # The database URL is settled only now, so Django is imported and set up here.
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from governance.access import secrets
        from governance.idp.models import IdpConnection
        from inventory.models import Grant

        def connection(name, url):
            return IdpConnection.objects.create(
                name=name,
                kind="oauth",
                config={"issuer": "https://bench.example", "client_id": "c", "grants_url": url},
                secret_encrypted=secrets.encrypt("s"),
                sync_interval_minutes=0,
            )

        baseline = bare_fetch(fast_url)
        rss_before = peak_rss_mb()
        first, first_sync = timed_sync(connection("bench", fast_url))
        assert Grant.objects.count() == args.grants
        resync, resync_sync = timed_sync(first_sync.connection)
        assert (resync_sync.created, resync_sync.changed) == (0, 0)
        first_sync.connection.delete()
        limited, limited_sync = timed_sync(connection("bench-limited", slow_url))
        rss_after = peak_rss_mb()
    finally:
        stop_peer(fast)
        slow_stats = stop_peer(slow)
        if started_db:
            from governance.platform import devdb  # as in fresh_database

            devdb.stop(Path(os.environ["PGDATA_DIR"]).resolve())

    pages = -(-args.grants // PAGE_SIZE)
    floor = pages / args.rate
    rejected = slow_stats.get("statuses", {}).get("429", 0)
    print(
        f"\nIdP sync, {args.grants} grants over {args.users} users, pages of {PAGE_SIZE} "
        f"({pages} pages)\n"
    )
    print("| measurement | time | records | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| bare fetch of every page (no database) | {baseline:.2f} s | {args.grants} | | |")
    print(
        f"| first sync, empty ledger, unlimited | {first:.2f} s | {first_sync.seen} | "
        f"{args.grants / first:.0f} grants/s | |"
    )
    print(
        f"| re-sync, nothing changed | {resync:.2f} s | {resync_sync.seen} | "
        f"{first / resync:.1f}x faster than the first | >= 5x |"
    )
    print(
        f"| re-sync, peer limited to {args.rate} req/s | {limited:.2f} s | "
        f"{limited_sync.seen} | {limited / floor:.2f}x the floor ({floor:.1f} s) | <= 1.2x |"
    )
    print(
        f"\n429s from the limited peer: {rejected} in {slow_stats.get('requests', 0)} requests "
        f"over ~{limited:.0f} one-second windows (target: at most one per window); "
        f"pacing waits: {limited_sync.summary['waits']}"
    )
    print(
        f"peak RSS of the bench process: {rss_before:.0f} MB before the first sync, "
        f"{rss_after:.0f} MB after all three"
    )


if __name__ == "__main__":
    main()
