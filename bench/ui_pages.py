"""Console pages at ten times the demo scale: every page's server time, and first paint in Chromium.

Creates a scratch database (test_<name>), loads `seed_demo --scale S` (default 10: 4,200
identities, 30,000 grants, 3,000 tasks, 30,000 audit events), then:

1. Server time: every console page, walked from the URL conf (each GET page of the governance,
   inventory and audit namespaces; detail pages with the busiest row, e.g. the identity holding
   the most grants), plus list pages with filters and two API lists, through Django's test client
   as a Viewer or an Admin (no network: render and queries). Median of --runs, the query count,
   and the ratio to a baseline measured in the same run: /governance/ (login, role check and the
   base template, no inventory query). Goal: <= 300 ms each.
2. First paint: the production web server (Granian, one worker) on the scratch database, and
   Chromium (Playwright, the machine's Chromium as in tests/browser) loading the overview and the
   explorer with a cold cache, --paints times each: first-contentful-paint from the page's
   performance entries, and when every chart is drawn. Goal: first paint <= 1 s.

    PGDATA_DIR=$PWD/var/pgbench .venv/bin/python bench/ui_pages.py --scale 10 --runs 7
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

NAMESPACES = (
    *("governance", "inventory", "audit", "containment"),
    *("findings", "alerts", "reviews", "reports"),
)
# Not pages: the log-in/out flow, downloads (streamed exports), the ingest endpoints.
SKIP = {
    *("account_login", "account_logout", "password_change_done", "grant_export", "event_export"),
    *("report_run_download", "campaign_export"),
    *("event_ingest", "event_schema", "trace_ingest", "log_ingest"),
}
# List pages as people filter them, and the API lists behind the same queries.
FILTERED = [
    "/inventory/identities/?kind=agent&q=agent&sort=-last_seen",
    "/inventory/grants/?status=active&grant_type=authorization_code&page=5",
    "/inventory/grants/?expiring=true&sort=expires_at",
    "/inventory/grants/?scope=crm:read",
    "/inventory/tasks/?running=true",
    "/inventory/tasks/?expired=true",
    "/audit/?outcome=error",
    "/audit/?identity=a&range=7d",  # an identity by name, a quick range
    "/audit/suggest/identity/?identity=ali",  # the explorer's suggestions as one types
    "/api/v1/grants/?status=revoked&limit=50",
    "/api/v1/tasks/?flagged=true",
    "/governance/findings/?status=all&sort=-last_seen",
    "/api/v1/findings/?severity=high",
    "/governance/reviews/mine/?recommendation=revoke",
    "/api/v1/review-items/?limit=50",
]
SERVER_GOAL_MS = 300
PAINT_GOAL_MS = 1000


def busiest_rows() -> dict:
    """url name -> the pk its detail page is timed with (the row with the most to show)."""
    from django.db.models import Count

    from audit.models import EventSource
    from governance.access.models import AdminAction
    from governance.alerts.models import Destination
    from governance.idp.models import IdpConnection, IdpSync
    from governance.reports.models import ReportRun, ReportSchedule
    from governance.reviews.models import Campaign
    from inventory.models import (
        AuthorizationServer,
        Client,
        ClientDocument,
        Crawl,
        Finding,
        Grant,
        Identity,
        Registry,
        Server,
        ServerRemote,
        Task,
    )

    def most(model, related):
        row = model.objects.annotate(n=Count(related)).order_by("-n", "pk").first()
        return row.pk if row else None

    def first(model):
        row = model.objects.order_by("pk").first()
        return row.pk if row else None

    cimd = Client.objects.filter(registration="cimd").order_by("pk").first()
    return {
        "admin_action_detail": first(AdminAction),
        "user_role_update": None,
        "idp_connection_detail": first(IdpConnection),
        "idp_connection_update": first(IdpConnection),
        "idp_sync_detail": first(IdpSync),
        "identity_detail": most(Identity, "grants"),
        "identity_activity": most(Identity, "grants"),  # the identity page's htmx fragment
        "client_detail": most(Client, "grants"),
        "server_detail": most(Server, "grants"),
        "server_history": most(Server, "grants"),
        "grant_detail": first(Grant),
        "task_detail": most(Task, "status_history"),
        "crawl_detail": first(Crawl),
        "registry_update": first(Registry),
        "client_document_detail": cimd.pk if cimd else None,
        "client_document_panel": cimd.pk if cimd else None,
        "client_document_diff": first(ClientDocument),
        "authorization_server_detail": first(AuthorizationServer),
        "server_remote_discover": first(ServerRemote),
        "source_detail": first(EventSource),
        "finding_detail": most(Finding, "changes"),
        "destination_detail": first(Destination),
        "campaign_detail": most(Campaign, "items"),
        "campaign_close": most(Campaign, "items"),  # its confirm page counts what it will revoke
        "campaign_record": most(Campaign, "items"),
        "report_run_detail": first(ReportRun),
        "report_schedule_update": first(ReportSchedule),
    }


def console_pages(pks: dict) -> list[str]:
    """The url of every console page (a detail page only when it has a row to show)."""
    from django.urls import URLPattern, URLResolver, get_resolver, reverse

    def walk(resolver, namespace=""):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry, entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and namespace in NAMESPACES and entry.name:
                yield namespace, entry

    pages = []
    for namespace, pattern in walk(get_resolver()):
        if pattern.name in SKIP or set(pattern.pattern.converters) - {"pk"}:
            continue
        kwargs = {}
        if "pk" in pattern.pattern.converters:
            if pks.get(pattern.name) is None:
                continue
            kwargs["pk"] = pks[pattern.name]
        pages.append(reverse(f"{namespace}:{pattern.name}", kwargs=kwargs))
    return pages


def median_ms(browser, url: str, runs: int) -> float | None:
    """Median server time of GET `url`; None when it is not a 200 page (a POST-only action, a
    redirect)."""
    response = browser.get(url)
    if response.status_code != 200 or response.streaming:
        return None
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        browser.get(url)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def query_count(browser, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        browser.get(url)
    return len(captured)


def server_times(browser, runs: int) -> None:
    pks = busiest_rows()
    baseline = median_ms(browser, "/governance/", runs * 3)  # small and noisy: more samples
    print(f"\nServer time, median of {runs} (goal <= {SERVER_GOAL_MS} ms)")
    print(f"baseline /governance/: {baseline:.1f} ms")
    print(f"{'page':72} {'ms':>8} {'queries':>8} {'x base':>7}")
    rows = []
    client_pk = pks["client_detail"]
    # The containment confirm pages build their dry run on every GET: the kill switch for the
    # client holding the most grants, and a bulk revoke of every active grant (capped at 1,000).
    confirms = [
        f"/governance/revocations/new/client/?client={client_pk}",
        "/governance/revocations/new/bulk/?status=active",
    ]
    for url in [*console_pages(pks), *FILTERED, *confirms]:
        ms = median_ms(browser, url, runs)
        if ms is None:
            continue
        rows.append((url, ms))
        over = "  OVER GOAL" if ms > SERVER_GOAL_MS else ""
        print(
            f"{url:72} {ms:8.1f} {query_count(browser, url):8d} {ms / baseline:7.1f}{over}",
            flush=True,
        )
    slowest = max(rows, key=lambda r: r[1])
    print(f"{len(rows)} pages; slowest {slowest[0]} at {slowest[1]:.1f} ms")


def first_paints(session_cookie: str, paints: int) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.chromium import chromium_path
    from tests.web_server import WebServer

    path = chromium_path()
    if not path:
        print("\nFirst paint: skipped, no Chromium (set PLAYWRIGHT_CHROMIUM)")
        return
    web = WebServer(workers=1)
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
            print(f"\nFirst paint in Chromium, cold cache, median of {paints} (goal <= 1 s)")
            print(f"{'page':20} {'first paint ms':>15} {'charts drawn ms':>16}")
            for url in ("/", "/audit/"):
                load(chromium, web.url, url, session_cookie)  # the worker's first request
                samples = [load(chromium, web.url, url, session_cookie) for _ in range(paints)]
                paint = statistics.median(s[0] for s in samples)
                drawn = statistics.median(s[1] for s in samples)
                over = "  OVER GOAL" if paint > PAINT_GOAL_MS else ""
                print(f"{url:20} {paint:15.0f} {drawn:16.0f}{over}", flush=True)
            chromium.close()
    finally:
        web.kill()


def load(chromium, base: str, url: str, session_cookie: str) -> tuple[float, float]:
    """(first contentful paint, every chart drawn), ms from navigation start, in a new context."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": session_cookie, "url": base}])
    page = context.new_page()
    page.goto(base + url, wait_until="load")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-plotly-figure]').length === 0"
        " && performance.getEntriesByName('first-contentful-paint').length > 0"
    )
    drawn = page.evaluate("() => performance.now()")
    paint = page.evaluate(
        "() => performance.getEntriesByName('first-contentful-paint')[0].startTime"
    )
    context.close()
    return paint, drawn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--paints", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    # The walk also GETs POST-only actions (a 405, left out of the table): not worth a warning.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    from django.conf import settings

    from governance.platform import devdb

    started_here = False
    if settings.EMBEDDED_PGDATA and not os.environ.get("DATABASE_URL"):
        started_here = devdb.ensure_running(settings.EMBEDDED_PGDATA, fast_and_unsafe=True)
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        # The Admin first: the demo's access-review campaign is made for the first Admin.
        user = User.objects.create_user("bench", password="x" * 16)
        user.groups.add(Group.objects.get_or_create(name="Admin")[0])  # every page, payloads too
        t0 = time.perf_counter()
        call_command("seed_demo", "--scale", str(args.scale), stdout=open(os.devnull, "w"))
        print(f"seed_demo --scale {args.scale}: {time.perf_counter() - t0:.1f} s")
        # Planner statistics, as autovacuum takes them within a minute of a bulk load: without
        # them PostgreSQL guesses one row per filter and joins 9,000 grants before sorting.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        browser = Client()
        browser.force_login(user)
        browser.get("/")  # import plotly, warm caches
        server_times(browser, args.runs)
        first_paints(browser.cookies["sessionid"].value, args.paints)
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if started_here:
            devdb.stop(settings.EMBEDDED_PGDATA)


if __name__ == "__main__":
    main()
