"""Registry crawl benchmark: a local registry serving N generated servers (default 10,000).

Measures, in one run against the same registry process:
  - baseline: a bare fetch of every page (httpx, JSON parse, follow cursors; no database);
  - full crawl into an empty inventory (target < 60 s for 10,000 servers);
  - full re-crawl with nothing changed (content hashes skip every version);
  - incremental crawl with nothing changed (`updated_since`; target < 5 s);
and prints medians and the ratio of each to the baseline.

    .venv/bin/python bench/registry.py [--servers 10000] [--full-runs 1] [--runs 3]

Uses its own embedded PostgreSQL cluster under var/pgbench (default durability: fsync on) and
a throwaway database, so it never touches `make run`'s data. The registry runs in its own
process (tests/fixtures/registry_server.py) so it does not share the crawler's GIL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
os.environ.setdefault("PGDATA_DIR", str(BASE_DIR / "var" / "pgbench"))
os.environ["EMBEDDED_DB_NAME"] = "mcpgov_bench_registry"
os.environ.setdefault("FETCH_ALLOWLIST", "127.0.0.1")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def fresh_database(pgdata: Path, name: str) -> None:
    import psycopg

    from governance.platform.devdb import socket_dir

    with psycopg.connect(
        host=str(socket_dir(pgdata)), user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def start_registry(servers: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.registry_server", "--generate", str(servers)],
        cwd=BASE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().strip()


def bare_fetch(url: str) -> tuple[float, int]:
    """Seconds to fetch and parse every page, following cursors; and the number of items."""
    import httpx
    import orjson

    started, items, cursor = time.perf_counter(), 0, None
    with httpx.Client(timeout=30) as client:
        while True:
            params = {"limit": 100, "include_deleted": "true"} | (
                {"cursor": cursor} if cursor else {}
            )
            body = orjson.loads(client.get(f"{url}/v0.1/servers", params=params).content)
            items += len(body["servers"])
            cursor = body["metadata"].get("nextCursor")
            if not cursor:
                return time.perf_counter() - started, items


def timed_crawl(registry, *, full: bool):
    from inventory.models import Crawl
    from inventory.services.crawls import execute_crawl, open_crawl

    crawl, _ = open_crawl(
        kind="registry",
        target=registry.base_url,
        registry=registry,
        options={"full": True} if full else {},
        requested_by="bench",
    )
    started = time.perf_counter()
    execute_crawl(crawl.pk)
    elapsed = time.perf_counter() - started
    crawl = Crawl.objects.get(pk=crawl.pk)
    assert crawl.status == "done", crawl.error_log
    return elapsed, crawl


def empty_inventory() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE inventory_server, inventory_crawl, inventory_finding CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--full-runs", type=int, default=1, help="full crawls from empty")
    parser.add_argument("--runs", type=int, default=3, help="runs of the cheaper measurements")
    args = parser.parse_args()

    from governance.platform import devdb

    pgdata = Path(os.environ["PGDATA_DIR"]).resolve()
    started_db = devdb.ensure_running(pgdata)
    registry_proc, url = start_registry(args.servers)
    try:
        fresh_database(pgdata, os.environ["EMBEDDED_DB_NAME"])
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from inventory.models import Registry, ServerVersion

        baseline = [bare_fetch(url) for _ in range(args.runs)]
        assert baseline[0][1] == args.servers
        base = statistics.median(t for t, _ in baseline)
        full = []
        for _ in range(args.full_runs):
            empty_inventory()
            registry = Registry.objects.get_or_create(name="bench", base_url=url)[0]
            full.append(timed_crawl(registry, full=True))
        assert ServerVersion.objects.count() == args.servers
        recrawl = [timed_crawl(registry, full=True) for _ in range(args.runs)]
        incremental = [timed_crawl(registry, full=False) for _ in range(args.runs)]
    finally:
        registry_proc.stdin.close()
        registry_proc.wait(timeout=30)
        if started_db:
            devdb.stop(pgdata)

    def row(label, runs, target=""):
        median = statistics.median(t for t, _ in runs)
        crawl = runs[-1][1]
        print(
            f"| {label} | {median:.2f} s | {crawl.pages} | {crawl.records} | "
            f"{median / base:.2f}x | {target} |"
        )

    print(
        f"\nRegistry crawl, {args.servers} servers, medians "
        f"(full: {args.full_runs} run(s), others: {args.runs} runs)\n"
    )
    print("| measurement | time | pages | records | ratio to bare fetch | target |")
    print("|---|---|---|---|---|---|")
    print(
        f"| bare fetch of all pages (baseline) | {base:.2f} s | "
        f"{-(-args.servers // 100)} | {args.servers} | 1.00x | |"
    )
    row("full crawl into an empty inventory", full, "< 60 s")
    row("full re-crawl, nothing changed (hash skip)", recrawl)
    row("incremental crawl, nothing changed", incremental, "< 5 s")
    print(
        f"\nfull crawl throughput: {args.servers / statistics.median(t for t, _ in full):.0f} "
        f"servers/s; bare fetch: {args.servers / base:.0f} servers/s"
    )


if __name__ == "__main__":
    main()
