"""Explorer and overview at scale: load N events by COPY, then time the real query code.

Usage:  .venv/bin/python bench/explorer.py [--events 10000000] [--days 90]

Creates a throwaway database on the worktree's embedded PostgreSQL (./var/pg), COPYs N
generated events (~5,000 identities, 50 clients, 20 servers, 30 tools, spread over --days),
builds the hourly rollups from them (in hour order, as ingestion appends them), then times
(medians of 7 warm runs) the explorer's first page, filtered pages and a deep keyset page through
`audit.queries_explorer`, and the overview's rollup queries through `audit.queries`. Prints the
load time. Drops the database at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
DB = f"bench_explorer_{os.getpid()}"
os.environ["EMBEDDED_DB_NAME"] = DB  # before anything can load the Django settings
from governance.platform import devdb  # noqa: E402

PGDATA = devdb.DEFAULT_PGDATA
COLUMNS = (
    "time, received_at, source_id, batch_id, event_id, type, actor_issuer, actor_subject, "
    "client_ref, server_name, method, tool, task_id, session_id, outcome, duration_ms, "
    "redacted, payload"
)
PAYLOAD = (
    '{{"id":"{id}","time":"{time}","type":"mcp.request","actor":{{"id":"{actor}",'
    '"idp":"https://idp.example.com","email":"{actor}@example.com"}},"client":{{"id":'
    '"{client}"}},"server":{{"name":"{server}"}},"method":"tools/call","tool":"{tool}",'
    '"outcome":"{outcome}","duration_ms":{dur},"attributes":{{"request_id":"{rid}",'
    '"arguments":{{"query":"quarterly revenue report for the last month","limit":50}}}}}}'
)
OUTCOMES = ["success"] * 8 + ["error", "denied"]


def env() -> dict:
    return {**os.environ, "EMBEDDED_DB_NAME": DB, "PGDATA_DIR": str(PGDATA), "LOG_LEVEL": "WARNING"}


def lines(start: int, count: int, now: datetime, span_s: int):
    out = []
    for i in range(start, start + count):
        # Spread evenly over the span, newest last; cheap deterministic "randomness".
        t = now - timedelta(seconds=span_s * (1 - i / TOTAL))
        ts = t.isoformat()
        h = (i * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF  # cheap, uncorrelated dimensions
        actor, client = f"u{h % 5000:05d}", f"https://client{(h >> 13) % 50}.example.com/c.json"
        server, tool = f"io.github.org{(h >> 19) % 20}/server", f"tool_{(h >> 25) % 30}"
        outcome, dur, eid = OUTCOMES[(h >> 31) % 10], (h >> 35) % 2000, f"e{i:09d}"
        payload = PAYLOAD.format(
            id=eid,
            time=ts,
            actor=actor,
            client=client,
            server=server,
            tool=tool,
            outcome=outcome,
            dur=dur,
            rid=uuid.UUID(int=i),
        )
        out.append(
            "\t".join(
                [
                    ts,
                    ts,
                    "1",
                    str(i // 1000 + 1),
                    eid,
                    "mcp.request",
                    "https://idp.example.com",
                    actor,
                    client,
                    server,
                    "tools/call",
                    tool,
                    "",
                    "",
                    outcome,
                    str(dur),
                    "f",
                    payload,
                ]
            )
        )
    return "\n".join(out) + "\n"


def load(n: int, days: int) -> float:
    import psycopg

    now = datetime.now(UTC)
    began = time.perf_counter()
    with psycopg.connect(host=str(devdb.socket_dir(PGDATA)), user="postgres", dbname=DB) as conn:
        for d in range(0, days + 32, 28):
            conn.execute("SELECT audit_ensure_partition(%s)", [now - timedelta(days=d)])
        conn.execute(
            "INSERT INTO audit_eventsource (id, name, kind, token_hash, token_prefix, "
            "enabled, retention_days, rate_limit_per_minute, created_at) VALUES "
            "(1, 'bench', 'gateway', 'x', 'x', true, 90, 0, now())"
        )
        conn.commit()
        step = 100_000
        for start in range(0, n, step):
            with conn.cursor().copy(f"COPY audit_event ({COLUMNS}) FROM STDIN") as copy:
                for sub in range(start, min(start + step, n), 10_000):
                    copy.write(lines(sub, min(10_000, n - sub), now, days * 86400))
            conn.commit()
            if start % 1_000_000 == 0:
                print(
                    f"  loaded {start + step:,} in {time.perf_counter() - began:.0f} s", flush=True
                )
        loaded = time.perf_counter() - began
        conn.execute("""INSERT INTO audit_eventrolluphourly (hour, source_id, server_name, tool,
            method, outcome, events, duration_ms_sum)
            SELECT date_trunc('hour', time, 'UTC'), source_id, server_name, tool, method, outcome,
                   count(*), sum(duration_ms) FROM audit_event GROUP BY 1, 2, 3, 4, 5, 6
            ORDER BY 1""")
        conn.execute("""INSERT INTO audit_serverrolluphourly (hour, source_id, server_name,
            outcome, events)
            SELECT date_trunc('hour', time, 'UTC'), source_id, server_name, outcome, count(*)
            FROM audit_event GROUP BY 1, 2, 3, 4 ORDER BY 1""")
        conn.execute("""INSERT INTO audit_identityrolluphourly (hour, actor_issuer, actor_subject,
            events, errors)
            SELECT date_trunc('hour', time, 'UTC'), actor_issuer, actor_subject, count(*),
                   count(*) FILTER (WHERE outcome <> 'success') FROM audit_event GROUP BY 1, 2, 3
            ORDER BY 1""")
        conn.execute("""INSERT INTO audit_clientrolluphourly (hour, client_ref, events, errors)
            SELECT date_trunc('hour', time, 'UTC'), client_ref, count(*),
                   count(*) FILTER (WHERE outcome IN ('error', 'denied')) FROM audit_event
            WHERE client_ref <> '' GROUP BY 1, 2 ORDER BY 1""")
        conn.commit()
        rollups = time.perf_counter() - began - loaded
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        print(
            f"load: {n:,} events in {loaded:.0f} s ({n / loaded:,.0f}/s); rollups from scratch "
            f"{rollups:.0f} s; "
            f"vacuum analyze {time.perf_counter() - began - loaded - rollups:.0f} s"
        )
    return loaded


def timed(fn, runs: int = 7) -> float:
    fn()  # warm
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def measure():
    os.environ.update(env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    import django

    django.setup()
    from audit import queries, queries_explorer

    now = datetime.now(UTC)

    def page(**params):
        return lambda: queries_explorer.events_page(
            queries_explorer.EventFilter.from_params(params)
        )

    _, cursor = queries_explorer.events_page(queries_explorer.EventFilter())
    for _ in range(200):  # 10,000 events deep
        _, cursor = queries_explorer.events_page(queries_explorer.EventFilter(), cursor=cursor)
    day = (now - timedelta(days=1)).isoformat()
    cases = {
        "explorer first page (no filter)": page(),
        "explorer page 201 (keyset cursor)": lambda: queries_explorer.events_page(
            queries_explorer.EventFilter(), cursor=cursor
        ),
        "filtered: one identity": page(identity="u01234"),
        "filtered: tool + outcome=error": page(tool="tool_7", outcome="error"),
        "filtered: server, last 24 h": page(server="io.github.org3/server", since=day),
        "filtered: free text, last 24 h": page(q="u01234@example", since=day),
        "overview: events per hour, 7 days": lambda: queries.events_per_hour(
            now - timedelta(days=7)
        ),
        "overview: top tools, 24 h": lambda: queries.top_tools(now - timedelta(days=1)),
        "overview: outcomes by server, 30 days": lambda: queries.outcomes_by_server(
            now - timedelta(days=30)
        ),
        "overview: top identities, 24 h": lambda: queries.top_identities(now - timedelta(days=1)),
        "overview: total events, 30 days": lambda: queries.total_events(now - timedelta(days=30)),
    }
    for name, fn in cases.items():
        print(f"{name:42s} {timed(fn):8.1f} ms (median of 7, warm)", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    global TOTAL
    TOTAL = args.events
    started = devdb.ensure_running(PGDATA)
    devdb.ensure_database(DB, PGDATA)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE, env=env(), check=True
        )
        load(args.events, args.days)
        measure()
    finally:
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(
            host=str(devdb.socket_dir(PGDATA)), user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        if started:
            devdb.stop(PGDATA)


TOTAL = 0
if __name__ == "__main__":
    main()
