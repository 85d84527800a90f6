"""Console page and API latency over the demo deployment, against a minimal page in the same run.

Creates a scratch database (test_<name>), loads `seed_demo --scale S`, then times each URL
through Django's test client (no network; the figure is server-side render + queries).
Baseline: the Governance home page, which is login + role check + the base template and no
inventory query. Prints median ms per URL, its query count, and the ratio to the baseline.

    PGDATA_DIR=$PWD/var/pgbench .venv/bin/python bench/ui_pages.py --scale 1 --runs 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

URLS = [
    "/",
    "/inventory/identities/",
    "/inventory/identities/?kind=agent&q=agent&sort=-last_seen",
    "/inventory/clients/",
    "/inventory/servers/",
    "/inventory/grants/",
    "/inventory/grants/?status=active&grant_type=authorization_code&page=5",
    "/inventory/grants/?expiring=true&sort=expires_at",
    "/inventory/tasks/?running=true",
    "/inventory/flags/",
    "/api/v1/grants/?status=revoked&limit=50",
    "/api/v1/tasks/?flagged=true",
    "/inventory/clients/{client}/",
    "/inventory/servers/{server}/",
]


def _median_ms(client, url: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    from governance.platform import devdb

    started_here = False
    if settings.EMBEDDED_PGDATA:
        started_here = devdb.ensure_running(settings.EMBEDDED_PGDATA, fast_and_unsafe=True)
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from inventory.models import Client as McpClient
    from inventory.models import Server

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        t0 = time.perf_counter()
        call_command("seed_demo", "--scale", str(args.scale), stdout=open(os.devnull, "w"))
        seed_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        call_command("seed_demo", "--scale", str(args.scale), stdout=open(os.devnull, "w"))
        seed_again = time.perf_counter() - t0
        user = User.objects.create_user("bench", password="x" * 16)
        user.groups.add(Group.objects.get_or_create(name="Viewer")[0])
        browser = Client()
        browser.force_login(user)
        ids = {
            "client": McpClient.objects.order_by("id").first().pk,
            "server": Server.objects.order_by("id").first().pk,
        }
        browser.get("/")  # import plotly, warm caches
        baseline = _median_ms(browser, "/governance/", args.runs)
        print(
            f"seed_demo --scale {args.scale}: first run {seed_first:.2f} s, "
            f"second run (no changes) {seed_again:.2f} s"
        )
        print(f"baseline /governance/: {baseline:.1f} ms (median of {args.runs})")
        print(f"{'url':70} {'median ms':>10} {'queries':>8} {'x baseline':>11}")
        for url in URLS:
            url = url.format(**ids)
            queries = []
            with connection.execute_wrapper(
                lambda run, sql, *a: queries.append(sql) or run(sql, *a)  # noqa: B023 (used at once)
            ):
                browser.get(url)
            ms = _median_ms(browser, url, args.runs)
            print(f"{url:70} {ms:10.1f} {len(queries):8d} {ms / baseline:11.1f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if started_here:
            devdb.stop(settings.EMBEDDED_PGDATA)


if __name__ == "__main__":
    main()
