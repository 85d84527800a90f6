"""Reports benchmark (issue 16 §6): the report builders and renderers at scale, each figure with
the ratio to a baseline measured in the same run.

(c) PDF of --pdf-grants grants (default 1,000) with charts, through the real builder
    (access_inventory, which draws two charts of its own: grants by status and by review
    state) and renderer; goal <= 5 s. Baseline: the same report as CSV.
(b) Access inventory of --grants grants (default 100,000) as CSV; goal >= 50,000 rows/s, memory
    bounded. Baseline: a bare server-side cursor over the grants joined to their names, written
    with the csv module (no report, no neutralising). Memory: tracemalloc's peak over a second
    run, beside the file's size (a streamed report's peak does not grow with its rows).
(a) Activity evidence for 90 days over --events events (default 10,000,000; COPY'd as
    bench/explorer.py does, with the hourly rollups); goal <= 10 s. Baseline: the overview's
    30-day total from the rollups (audit.queries.total_events). Skipped with --events 0.

    DATABASE_URL=postgres://... .venv/bin/python bench/reports.py [--grants 100000] [--events 0]
        [--repeat 3]   (each figure: the median of --repeat runs, with the load average)

With DATABASE_URL set it uses a throwaway database `mcpgov_bench_reports` on that server;
otherwise its own embedded cluster under var/pgbench. Files go to a temporary directory.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from cputime import _cpu_of  # bench/cputime.py: a process's CPU seconds from /proc

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratchdb import fresh_database  # noqa: E402 - the bench folder, just put on the path

sys.path.insert(0, str(BASE_DIR / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
os.environ.setdefault("PGDATA_DIR", str(BASE_DIR / "var" / "pgbench"))
os.environ.setdefault("LOG_LEVEL", "WARNING")
BENCH_DB = "mcpgov_bench_reports"
IDENTITIES, CLIENTS, SERVERS = 5_000, 200, 50
SCOPES = ["crm:read", "crm:write", "files:read", "mail:send", "calendar:read", "tickets:write"]


def drop_database(started: bool) -> None:
    from django.db import connections

    connections.close_all()
    url = os.environ.get("DATABASE_URL")
    if url:
        admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        return
    from governance.platform import devdb

    pgdata = Path(os.environ["PGDATA_DIR"]).resolve()
    with psycopg.connect(
        host=str(devdb.socket_dir(pgdata)), user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    if started:
        devdb.stop(pgdata)


# --- seeding (SQL straight into the tables: the write services are not what is measured) ------

SEED_PEOPLE = f"""
INSERT INTO inventory_identity (first_seen, last_seen, seen_from, issuer, subject, display_name,
    email, kind, status, team)
SELECT now(), now(), 'idp', 'https://idp.example.com', 'u' || i, 'User ' || i,
       'u' || i || '@example.com', CASE WHEN i % 10 = 0 THEN 'agent' ELSE 'human' END,
       'active', 'team ' || (i % 40)
FROM generate_series(1, {IDENTITIES}) i;
INSERT INTO inventory_client (first_seen, last_seen, seen_from, client_id, issuer, registration,
    name, version, review_status)
SELECT now(), now(), 'idp', 'https://client' || i || '.example.com/c.json',
       'https://idp.example.com', 'cimd', 'Client ' || i, '1.0', 'unreviewed'
FROM generate_series(1, {CLIENTS}) i;
INSERT INTO inventory_server (first_seen, last_seen, seen_from, name, title, description,
    latest_version, repository_url, repository_id, registry_status, review_status)
SELECT now(), now(), 'registry', 'io.github.org' || i || '/server', 'Server ' || i, '', '1.0',
       '', '', 'active', 'unreviewed'
FROM generate_series(1, {SERVERS}) i;
"""

SEED_GRANTS = """
INSERT INTO inventory_grant (first_seen, last_seen, seen_from, resource, scopes, grant_type,
    issuer, external_id, has_refresh_token, id_jag_jti, issued_at, expires_at, last_used_at,
    status, revoked_by, revoke_reason, client_id, subject_id, server_id, content_hash, raw)
SELECT now(), now(), 'idp', 'https://mcp' || (i %% %(servers)s) || '.example.com/mcp',
       ARRAY[(%(scopes)s::varchar[])[1 + i %% 6], (%(scopes)s::varchar[])[1 + (i / 7) %% 6]],
       'authorization_code', 'https://idp.example.com', 'g' || i, i %% 3 = 0, '',
       now() - (i %% 400) * interval '1 day', now() + (i %% 90) * interval '1 day',
       now() - (i %% 120) * interval '1 day', 'active', '', '',
       (SELECT min(id) FROM inventory_client) + i %% %(clients)s,
       (SELECT min(id) FROM inventory_identity) + i %% %(identities)s,
       (SELECT min(id) FROM inventory_server) + i %% %(servers)s, '', '{}'::jsonb
FROM generate_series(%(first)s, %(last)s) i
"""


def seed_grants(first: int, last: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if first == 1:
            cursor.execute(SEED_PEOPLE)
        cursor.execute(
            SEED_GRANTS,
            {
                "first": first,
                "last": last,
                "scopes": SCOPES,
                "clients": CLIENTS,
                "identities": IDENTITIES,
                "servers": SERVERS,
            },
        )
        cursor.execute("ANALYZE")


# --- measuring ----------------------------------------------------------------------------------


class CountingSink(io.RawIOBase):
    """A file that only counts bytes (the disk is not what is measured)."""

    def __init__(self):
        self.size = 0

    def writable(self):
        return True

    def write(self, data):
        self.size += len(data)
        return len(data)


def make_report(kind: str, fmt: str, params: dict, *, trace: bool = False) -> dict:
    """Build and render one report into a counting sink; seconds, rows, bytes, charts (and the
    tracemalloc peak when `trace`)."""
    from governance.reports import catalog
    from governance.reports.document import Chart
    from governance.reports.render import WRITERS

    if trace:
        tracemalloc.start()
    backend = backend_pid()
    cpu_began, backend_began = time.process_time(), _cpu_of(backend)
    began = time.perf_counter()
    report = catalog.BUILDERS[kind](params)
    sink = CountingSink()
    rows = WRITERS[fmt](report, sink, requested_by="bench")
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    backend_cpu = _cpu_of(backend) - backend_began
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    drawn = sum(isinstance(section, Chart) for section in report.sections)
    return {
        "seconds": seconds,
        "rows": rows,
        "bytes": sink.size,
        "peak": peak,
        "charts": drawn,
        "cpu": cpu,
        "backend_cpu": backend_cpu,
    }


REPEAT = 3  # --repeat: each figure is the median of this many runs (the machine is shared)


def median_run(kind: str, fmt: str, params: dict, **options) -> dict:
    """The run with the median time of REPEAT runs, with every run's seconds in "all"."""
    runs = sorted((make_report(kind, fmt, params, **options) for _ in range(REPEAT)),
                  key=lambda run: run["seconds"])  # fmt: skip
    middle = dict(runs[len(runs) // 2])
    middle["all"] = ", ".join(f"{run['seconds']:.2f}" for run in runs)
    return middle


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def backend_pid() -> int:
    """This connection's PostgreSQL backend (on this machine: its CPU is read from /proc)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


BASELINE_SQL = """
SELECT i.display_name, i.email, i.kind, c.name, s.name, g.resource, g.scopes, g.grant_type,
       g.issued_at, g.expires_at, g.last_used_at, g.issuer, g.status
FROM inventory_grant g JOIN inventory_client c ON c.id = g.client_id
LEFT JOIN inventory_identity i ON i.id = g.subject_id
LEFT JOIN inventory_server s ON s.id = g.server_id ORDER BY g.id
"""


def baseline_csv() -> tuple[float, int]:
    """A bare server-side cursor written with the csv module: what streaming rows costs."""
    from django.db import connection, transaction

    began = time.perf_counter()
    sink = io.TextIOWrapper(CountingSink(), encoding="utf-8", newline="")
    writer = csv.writer(sink)
    rows = 0
    with transaction.atomic(), connection.connection.cursor(name="bench_baseline") as cursor:
        cursor.itersize = 2000
        cursor.execute(BASELINE_SQL)
        for row in cursor:
            writer.writerow(row)
            rows += 1
    return time.perf_counter() - began, rows


def period(days: int) -> dict:
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return {"period_start": end - timedelta(days=days), "period_end": end}


def bench_pdf(n: int) -> None:
    params = period(90)
    csv_run = median_run("access_inventory", "csv", params)
    pdf_run = median_run("access_inventory", "pdf", params)
    print(
        f"(c) PDF of {pdf_run['rows']:,} grants with {pdf_run['charts']} charts: "
        f"{pdf_run['seconds']:.2f} s median of [{pdf_run['all']}] ({load()}, "
        f"{pdf_run['bytes'] / 1e6:.1f} MB)  goal <= 5 s  "
        f"[baseline: same report as CSV {csv_run['seconds']:.2f} s; ratio "
        f"{pdf_run['seconds'] / csv_run['seconds']:.1f}x]",
        flush=True,
    )


def bench_csv(n: int) -> None:
    params = period(90)
    base_s, base_rows = baseline_csv()
    run = median_run("access_inventory", "csv", params)
    rate, base_rate = run["rows"] / run["seconds"], base_rows / base_s
    print(
        f"(b) access inventory CSV: {run['rows']:,} rows in {run['seconds']:.2f} s median of "
        f"[{run['all']}] = {rate:,.0f} rows/s ({load()}, {run['bytes'] / 1e6:.1f} MB)  "
        "goal >= 50,000 rows/s  "
        f"[baseline: bare cursor + csv module {base_rate:,.0f} rows/s; ratio "
        f"{rate / base_rate:.2f}]",
        flush=True,
    )
    cpu = run["cpu"] + run["backend_cpu"]
    print(
        f"    CPU: this process {run['cpu']:.2f} s + its PostgreSQL backend "
        f"{run['backend_cpu']:.2f} s = {run['rows'] / cpu:,.0f} rows per CPU-second (the rate "
        "an otherwise idle machine gives: the two take turns, cursor fetch then render)",
        flush=True,
    )
    small = make_report("access_inventory", "csv", params, trace=True)
    print(
        f"    memory: tracemalloc peak {small['peak'] / 1e6:.1f} MB while writing "
        f"{small['rows']:,} rows ({small['bytes'] / 1e6:.1f} MB of CSV)",
        flush=True,
    )


def bench_activity(events: int) -> None:
    import explorer  # bench/explorer.py: its event generator and COPY columns

    from audit import queries
    from audit.services.sources import create_source

    explorer.TOTAL = events
    now = datetime.now(UTC)
    began = time.perf_counter()
    from django.db import connection

    raw = connection.cursor().connection
    for d in range(0, 90 + 32, 28):
        raw.execute("SELECT audit_ensure_partition(%s)", [now - timedelta(days=d)])
    source, _ = create_source(name="bench")  # the first source: id 1, as explorer.lines says
    assert source.pk == 1, "the bench database must be fresh"
    for start in range(0, events, 100_000):
        with raw.cursor().copy(f"COPY audit_event ({explorer.COLUMNS}) FROM STDIN") as copy:
            for sub in range(start, min(start + 100_000, events), 10_000):
                copy.write(explorer.lines(sub, min(10_000, events - sub), now, 90 * 86400))
    for sql in ROLLUPS.values():
        raw.execute(sql)
    raw.commit()
    print(f"    loaded {events:,} events and rollups in {time.perf_counter() - began:.0f} s")
    base_began = time.perf_counter()
    queries.total_events(now - timedelta(days=30))
    base = time.perf_counter() - base_began
    run = median_run("activity_evidence", "pdf", period(90))
    print(
        f"(a) activity evidence, 90 days over {events:,} events: {run['seconds']:.2f} s median "
        f"of [{run['all']}] ({load()}, PDF, {run['bytes'] / 1e6:.1f} MB)  goal <= 10 s  "
        "[baseline: overview 30-day total "
        f"{base * 1000:.0f} ms; ratio {run['seconds'] / base:.0f}x]",
        flush=True,
    )


ROLLUPS = {
    "audit_eventrolluphourly": """INSERT INTO audit_eventrolluphourly (hour, source_id,
        server_name, tool, method, outcome, events, duration_ms_sum)
        SELECT date_trunc('hour', time, 'UTC'), source_id, server_name, tool, method, outcome,
               count(*), sum(duration_ms) FROM audit_event GROUP BY 1, 2, 3, 4, 5, 6""",
    "audit_serverrolluphourly": """INSERT INTO audit_serverrolluphourly (hour, source_id,
        server_name, outcome, events)
        SELECT date_trunc('hour', time, 'UTC'), source_id, server_name, outcome, count(*)
        FROM audit_event GROUP BY 1, 2, 3, 4""",
    "audit_identityrolluphourly": """INSERT INTO audit_identityrolluphourly (hour,
        actor_issuer, actor_subject, events, errors)
        SELECT date_trunc('hour', time, 'UTC'), actor_issuer, actor_subject, count(*),
               count(*) FILTER (WHERE outcome <> 'success') FROM audit_event GROUP BY 1, 2, 3""",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--pdf-grants", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=10_000_000, help="0 skips (a)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the median)")
    args = parser.parse_args()
    global REPEAT
    REPEAT = max(1, args.repeat)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    started = fresh_database(BENCH_DB)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, check=True)
        import django

        django.setup()
        from django.conf import settings

        from governance.reports import catalog

        settings.REPORTS_DIR = Path(tempfile.mkdtemp(prefix="bench-reports-"))
        missing = {"access_inventory", "activity_evidence"} - set(catalog.BUILDERS)
        if missing:
            print(f"builders missing in this tree: {sorted(missing)}: those figures are skipped")
        seed_grants(1, args.pdf_grants)
        if "access_inventory" in catalog.BUILDERS:
            bench_pdf(args.pdf_grants)
            seed_grants(args.pdf_grants + 1, args.grants)
            bench_csv(args.grants)
        if args.events and "activity_evidence" in catalog.BUILDERS:
            bench_activity(args.events)
    finally:
        drop_database(started)


if __name__ == "__main__":
    main()
