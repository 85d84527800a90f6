"""Finding rules benchmark: the scheduled run over a large inventory, per rule.

    .venv/bin/python bench/findings_rules.py [--grants 100000] [--identities 10000]

Builds an inventory of G grants (10% unused for months, a few with admin or user scopes, some
held by disabled identities or blocked clients), I identities, 300 clients and G/20 tasks (some
still running on revoked grants), then times, per rule, the first run (raising everything) and a
second run (refreshing everything), against a baseline measured in the same run: `SELECT count(*)`
of the grants (a full scan of the table the rules read most).

With DATABASE_URL set, it uses that PostgreSQL server and a throwaway database
`mcpgov_bench_findings` on it; otherwise its own embedded cluster under var/pgbench, like
bench/idp_sync.py. Either way it never touches `make run`'s data.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratchdb import fresh_database  # noqa: E402 - the bench folder, just put on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
os.environ.setdefault("PGDATA_DIR", str(BASE_DIR / "var" / "pgbench"))
os.environ.setdefault("LOG_LEVEL", "WARNING")
BENCH_DB = "mcpgov_bench_findings"
SCOPES = ["crm:read", "crm:write", "docs:read", "tickets:write", "billing:read", "deploy:read"]


def build_inventory(grants: int, identities: int) -> None:
    """Bulk-insert the inventory (after django.setup())."""
    from django.utils import timezone

    from inventory.models import Client, Grant, Identity, Server, Task

    rng, now = random.Random(14), timezone.now()
    people = Identity.objects.bulk_create(
        [
            Identity(
                issuer="https://idp.bench.example",
                subject=f"u-{n}",
                display_name=f"User {n}",
                status="disabled" if n % 50 == 0 else "active",
                first_seen=now,
                last_seen=now,
            )
            for n in range(identities)
        ],
        batch_size=5000,
    )
    clients = Client.objects.bulk_create(
        [
            Client(
                client_id=f"agent-{n}",
                name=f"Agent {n}",
                review_status="blocked" if n % 60 == 0 else "approved",
                first_seen=now - timedelta(days=rng.uniform(0, 300)),
                last_seen=now,
            )
            for n in range(300)
        ]
    )
    server = Server.objects.create(name="io.bench/crm", first_seen=now, last_seen=now)

    def grant(n: int) -> Grant:
        machine = n % 10 == 0
        scopes = rng.sample(SCOPES, 2) + (["crm:admin"] if n % 40 == 0 else [])
        if machine and n % 30 == 0:
            scopes.append("openid")
        revoked = n % 25 == 0
        return Grant(
            subject=None if machine else rng.choice(people),
            client=rng.choice(clients),
            server=server,
            scopes=scopes,
            grant_type="client_credentials" if machine else "authorization_code",
            issuer="https://idp.bench.example",
            external_id=f"g-{n}",
            issued_at=now - timedelta(days=rng.uniform(100, 400)),
            last_used_at=now - timedelta(days=rng.uniform(0, 100 if n % 10 else 300)),
            status="revoked" if revoked else "active",
            revoked_at=now - timedelta(days=1) if revoked else None,
            first_seen=now,
            last_seen=now,
        )

    made = Grant.objects.bulk_create([grant(n) for n in range(grants)], batch_size=5000)
    Task.objects.bulk_create(
        [
            Task(
                task_id=f"t-{n}",
                server=server,
                grant=made[n * 20],
                status=rng.choice(["working", "completed", "completed", "input_required"]),
                first_seen=now,
                last_seen=now,
            )
            for n in range(grants // 20)
        ],
        batch_size=5000,
    )
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("ANALYZE")


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def baseline() -> float:
    from django.db import connection

    def count():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM inventory_grant")
            return cursor.fetchone()[0]

    return min(timed(count)[0] for _ in range(3))


def run_each_rule(now) -> dict[str, tuple[float, dict]]:
    """Each scheduled rule in its own transaction, as run_scheduled_rules does, timed."""
    from django.db import transaction

    from governance.findings.rules import SCHEDULED_RULES

    times = {}
    for rule in SCHEDULED_RULES:
        with transaction.atomic():
            times[getattr(rule, "kind", rule.__name__)] = timed(lambda r=rule: r(now))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--identities", type=int, default=10_000)
    args = parser.parse_args()
    fresh_database(BENCH_DB)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.utils import timezone

    build_seconds, _ = timed(lambda: build_inventory(args.grants, args.identities))
    print(f"inventory: {args.grants} grants, {args.identities} identities ({build_seconds:.1f} s)")
    base = baseline()
    print(f"baseline SELECT count(*) of grants: {base * 1000:.1f} ms")
    now = timezone.now()
    first = run_each_rule(now)
    second = run_each_rule(now + timedelta(minutes=5))
    print(f"{'rule':40} {'first run':>10} {'raised':>7} {'refresh':>10} {'x base':>7}")
    for kind, (seconds, counts) in first.items():
        again = second[kind][0]
        print(
            f"{kind:40} {seconds * 1000:8.0f}ms {counts.get('raised', 0):7d} "
            f"{again * 1000:8.0f}ms {again / base:7.1f}"
        )
    total_first = sum(s for s, _ in first.values())
    total_second = sum(s for s, _ in second.values())
    print(
        f"{'all rules':40} {total_first * 1000:8.0f}ms {'':7} {total_second * 1000:8.0f}ms "
        f"{total_second / base:7.1f}"
    )


if __name__ == "__main__":
    main()
