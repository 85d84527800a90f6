"""Ingest benchmark: (a) raw COPY ceiling, (b) HTTP batches, (c) one event per request, RSS.

Usage:  .venv/bin/python bench/ingest.py [--events 100000] [--single 5000] [--protocol-on-off]
        [--rules-on-off]

Runs against the worktree's embedded PostgreSQL (./var/pg, default durability: fsync and
synchronous_commit on), in a throwaway database created here and dropped at the end.
(a) COPY of the same generated events, 1,000-row batches (a commit each), into a bare table
    with the same unique key (source, event id); one connection, and four for reference.
(b) POST /api/v1/events through the production web server (governance/platform/webserver.py:
    Granian, one process per core, 16 threads each, keep-alive), 1,000 events per request,
    4 concurrent clients, with dedup, redaction, chain, derived state and rollups on.
(c) the same endpoint with one event per request, 32 concurrent keep-alive clients (a fleet of
    MCP servers; --single-concurrency), and (c4) with 4, each after a 1,000-request warm-up;
    the baseline (c0) is one-row INSERT + COMMIT over 4 connections (the durable-commit
    ceiling of this disk).
Then (f), the floor of the database's share of (b): only the dedup key and the event row of
each event, COPYed into the real tables (bench/ingest_inprocess.py); peak RSS of a worker for
one 16 MB request; and a cProfile of the ingest service.
Medians of --repeat runs; prints events/s and the ratio (b)/(a), and the CPU time per event of
(a) and (b) by process (bench/cputime.py) with the cores (b) would need for 0.6 x (a).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
DB = f"bench_ingest_{os.getpid()}"
os.environ["EMBEDDED_DB_NAME"] = DB  # before anything can load the Django settings
from governance.platform import devdb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cputime import CpuMeter, postmaster_pid, process_tree  # noqa: E402
from ingest_inprocess import bench_floor, profile_service  # noqa: E402
from ingest_protocol import on_off  # noqa: E402
from ingest_rules import on_off as rules_on_off  # noqa: E402
from loadgen import post_all, timed_threads  # noqa: E402  (bench/ is a folder of scripts: by path)

PGDATA = devdb.DEFAULT_PGDATA


WORDS = (
    "report",
    "quarterly",
    "revenue",
    "customer",
    "github",
    "issue",
    "search",
    "the",
    "deploy",
    "invoice",
    "summary",
    "from",
    "last",
    "month",
    "open",
    "pull",
    "request",
)


def _text(rnd, size: int) -> str:
    words, length = [], 0
    while length < size:
        words.append(rnd.choice(WORDS))
        length += len(words[-1]) + 1
    return " ".join(words)


def make_events(n: int, *, seed: int, pad: int = 0) -> list[dict]:
    """~1 KB tools/call events over 500 identities, 50 clients, 20 servers; 5% tasks, 5% secrets."""
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    events = []
    for i in range(n):
        server = f"io.github.org{rnd.randrange(20)}/server"
        event = {
            "id": str(uuid.UUID(int=rnd.getrandbits(128))),
            "time": (now - timedelta(seconds=rnd.randrange(3600))).isoformat(),
            "type": "mcp.request",
            "actor": {
                "id": f"00u{rnd.randrange(500):05d}",
                "type": "human",
                "idp": "https://idp.example.com",
                "email": f"user{i % 500}@example.com",
            },
            "client": {
                "id": f"https://client{rnd.randrange(50)}.example.com/cimd.json",
                "name": "Agent",
                "version": "1.0",
            },
            "server": {"name": server, "url": f"https://{server.split('/')[0]}.example/mcp"},
            "session_id": f"sess-{rnd.randrange(10_000)}",
            "protocol_version": "2025-11-25",
            "method": "tools/call",
            "tool": f"tool_{rnd.randrange(30)}",
            "outcome": rnd.choice(["success"] * 8 + ["error", "denied"]),
            "duration_ms": rnd.randrange(2000),
            "attributes": {
                "request_id": str(uuid.uuid4()),
                "region": "eu-west-1",
                "arguments": {"query": _text(rnd, 300 + pad), "limit": 50},
                "user_agent": "agent-sdk/1.2.3 python/3.12",
            },
        }
        if rnd.random() < 0.05:
            event["task"] = {"id": f"task-{rnd.randrange(n)}", "status": "working", "ttl": 60000}
        if rnd.random() < 0.05:
            event["attributes"]["headers"] = {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz"}
        events.append(event)
    return events


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def django_env() -> dict:
    """The production settings but for the database: the default per-source rate limit stays
    on (120,000 requests a minute; no run comes near it), so its cost is measured too."""
    return {**os.environ, "EMBEDDED_DB_NAME": DB, "PGDATA_DIR": str(PGDATA), "LOG_LEVEL": "WARNING"}


def connect(dbname=DB):
    import psycopg

    return psycopg.connect(host=str(devdb.socket_dir(PGDATA)), user="postgres", dbname=dbname)


# --- (a) the ceiling ------------------------------------------------------------------------
RAW_DDL = """
DROP TABLE IF EXISTS bench_raw;
CREATE TABLE bench_raw (id bigserial, time timestamptz NOT NULL, source_id bigint NOT NULL,
    event_id text NOT NULL, type text, actor_subject text, client_ref text, server_name text,
    method text, tool text, outcome text, duration_ms double precision, payload jsonb,
    UNIQUE (source_id, event_id));
"""


def raw_rows(events):
    import orjson

    return [
        (
            datetime.fromisoformat(e["time"]),
            1,
            e["id"],
            e["type"],
            e["actor"]["id"],
            e["client"]["id"],
            e["server"]["name"],
            e["method"],
            e["tool"],
            e["outcome"],
            e["duration_ms"],
            orjson.dumps(e).decode(),
        )
        for e in events
    ]


def copy_batches(rows, batches):
    with connect() as conn:
        for start in batches:
            with conn.cursor() as cur:
                with cur.copy(
                    "COPY bench_raw (time, source_id, event_id, type, actor_subject, "
                    "client_ref, server_name, method, tool, outcome, duration_ms, "
                    "payload) FROM STDIN"
                ) as copy:
                    for row in rows[start : start + 1000]:
                        copy.write_row(row)
            conn.commit()


def bench_commits(n: int, connections: int) -> float:
    """Durable one-row transactions per second over `connections` connections."""
    with connect() as conn:
        conn.execute("DROP TABLE IF EXISTS bench_commit; CREATE TABLE bench_commit (x int)")
        conn.commit()

    def run(count):
        with connect() as conn:
            for _ in range(count):
                conn.execute("INSERT INTO bench_commit VALUES (1)")
                conn.commit()

    return n / timed_threads(run, [(n // connections,)] * connections)


def bench_copy(rows, connections: int, meter: CpuMeter | None = None) -> float:
    with connect() as conn:
        conn.execute(RAW_DDL)
        conn.commit()
    starts = list(range(0, len(rows), 1000))
    if meter:
        meter.start()
    elapsed = timed_threads(
        copy_batches, [(rows, starts[i::connections]) for i in range(connections)]
    )
    if meter:
        meter.stop()  # (the backends of (a) have not exited yet: psycopg closes them after)
    return len(rows) / elapsed


# --- (b), (c): HTTP through the production web server ------------------------------------------
class Server:
    """The production web server (governance/platform/webserver.py: Granian) on a free port."""

    def __init__(self, workers: int | None = None, env: dict | None = None):
        from governance.platform import webserver

        self.port = free_port()
        self.proc = subprocess.Popen(
            webserver.command(f"127.0.0.1:{self.port}", workers=workers, log_level="warning"),
            cwd=BASE,
            env={**django_env(), **(env or {})},
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}/api/v1/events"
        import httpx

        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("the web server did not start")

    def worker_pids(self) -> list[int]:
        """Worker processes (Granian's children)."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


def one_per_request(server, token, count: int, concurrency: int, *, seed: int) -> float:
    """Events/s of `count` one-event requests from `concurrency` clients, after a warm-up.

    The warm-up (1,000 requests, not timed) is what a running console has already done: each
    server thread that takes a commit group opens its database connection once (a backend
    fork, the session's stage and function, the first plans), then keeps it for
    DB_CONN_MAX_AGE. Timed from cold, a 3-second run spent about a fifth of its CPU on that.
    """
    import orjson

    warm = [orjson.dumps([e]) for e in make_events(1000, seed=seed + 500_000)]
    post_all(server.url, token, warm, concurrency)
    singles = [orjson.dumps([e]) for e in make_events(count, seed=seed)]
    return len(singles) / post_all(server.url, token, singles, concurrency)


def per_event_us(used: dict[str, float], events: int) -> dict[str, float]:
    return {role: seconds / events * 1e6 for role, seconds in used.items()}


def print_cpu(cpu_a: list[dict], cpu_b: list[dict], cpu_f: list[dict], ma1: float) -> None:
    """CPU per event of (a), (b) and (f), and the cores (b) would keep busy at 0.6 x (a):
    events/s can never exceed cores / CPU per event, whatever the design's latency."""
    a, b, f = (
        {role: statistics.median(run[role] for run in runs) for role in runs[0]}
        for runs in (cpu_a, cpu_b, cpu_f)
    )
    own_b = b["web"] + b["postgres"] + b["load generator"]
    floor = b["web"] + f["postgres"] + b["load generator"]
    target = 0.6 * ma1
    print("\nCPU per event (medians; machine = all busy time, other tenants included):")
    print(
        f"(a) PostgreSQL {a['postgres']:.1f} us + client {a['client']:.1f} us "
        f"= {a['postgres'] + a['client']:.1f} us   (machine {a['machine']:.1f} us)"
    )
    print(
        f"(b) web {b['web']:.1f} us + PostgreSQL {b['postgres']:.1f} us + load generator "
        f"{b['load generator']:.1f} us = {own_b:.1f} us   (machine {b['machine']:.1f} us)"
    )
    print(f"(f) PostgreSQL {f['postgres']:.1f} us + client {f['client']:.1f} us")
    print(
        f"cores busy at 0.6 x (a) = {target:,.0f} events/s: (b) as built "
        f"{own_b * target / 1e6:.1f}; (b)'s web tier with a database doing only (f) "
        f"{floor * target / 1e6:.1f}; this machine has {os.cpu_count()}"
    )


def peak_rss_16mb(token) -> tuple[float, float, int]:
    """(baseline MB, peak MB, body bytes) of one web server worker handling one ~16 MB request."""
    import orjson

    events = make_events(9000, seed=99, pad=1400)
    body = orjson.dumps(events)
    while len(body) > 16 * 1024 * 1024:
        events.pop()
        body = orjson.dumps(events)
    server = Server(workers=1)
    try:
        post_all(server.url, token, [orjson.dumps(make_events(10, seed=98))], 1)
        pid = server.worker_pids()[0]
        before = _vm_hwm(pid)
        post_all(server.url, token, [body], 1)
        return before, _vm_hwm(pid), len(body)
    finally:
        server.stop()


def _vm_hwm(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="web server workers (default: governance/platform/webserver.py, one per core)",
    )
    parser.add_argument(
        "--single-concurrency",
        type=int,
        default=32,
        help="clients sending one event per request for (c) (also run at 4)",
    )
    parser.add_argument(
        "--protocol-on-off",
        action="store_true",
        help="only (b) and (c4) with the protocol-feature extraction on and off, alternating "
        "(bench/ingest_protocol.py)",
    )
    parser.add_argument(
        "--protocol-share",
        type=float,
        default=1.0,
        help="with --protocol-on-off: the protocol traffic as a multiple of 3%% (0 = none: the "
        "control run, where on and off differ only by the cheap checks)",
    )
    parser.add_argument(
        "--rules-on-off",
        action="store_true",
        help="only (b) and (c4) with the finding rules of the ingest path on and off, "
        "alternating, with blocked and deleted clients and servers (bench/ingest_rules.py)",
    )
    args = parser.parse_args()
    import orjson

    started_cluster = devdb.ensure_running(PGDATA)
    devdb.ensure_database(DB, PGDATA)
    try:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE, env=django_env(), check=True
        )
        token = subprocess.run(
            [sys.executable, "manage.py", "create_source", "bench"],
            cwd=BASE,
            env=django_env(),
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"setup (database + migrations): {time.perf_counter() - t0:.1f} s")
        if args.protocol_on_off:
            on_off(
                make_events=make_events,
                start_server=lambda on: Server(
                    workers=args.workers, env={"AUDIT_PROTOCOL_EXTRACTION": on}
                ),
                post_all=post_all,
                token=token,
                args=args,
            )
            return
        if args.rules_on_off:
            rules_on_off(
                make_events=make_events,
                start_server=lambda on: Server(
                    workers=args.workers, env={"FINDINGS_EVENT_RULES": on}
                ),
                post_all=post_all,
                token=token,
                args=args,
                connect=connect,
                postgres=lambda: process_tree(postmaster_pid(PGDATA)),
            )
            return
        a1, a4, b, c, c4, c0 = [], [], [], [], [], []
        cpu_a, cpu_b = [], []  # CPU microseconds per event, by role
        server = Server(workers=args.workers)

        def postgres():
            return process_tree(postmaster_pid(PGDATA))

        meter_a = CpuMeter(
            {"postgres": postgres, "client": lambda: [os.getpid()]}, reaped=("postgres",)
        )
        meter_b = CpuMeter(
            {
                "web": lambda: process_tree(server.proc.pid),
                "postgres": postgres,
                "load generator": lambda: [os.getpid()],
            },
            reaped=("postgres",),
        )
        try:
            for run in range(args.repeat):
                events = make_events(args.events, seed=run)
                rows = raw_rows(events)
                a1.append(bench_copy(rows, 1, meter_a))
                cpu_a.append(per_event_us(meter_a.used, len(rows)))
                a4.append(bench_copy(rows, 4))
                bodies = [orjson.dumps(events[i : i + 1000]) for i in range(0, len(events), 1000)]
                meter_b.start()
                b.append(len(events) / post_all(server.url, token, bodies, 4))
                cpu_b.append(per_event_us(meter_b.stop(), len(events)))
                c.append(
                    one_per_request(
                        server, token, args.single, args.single_concurrency, seed=1000 + run
                    )
                )
                c4.append(one_per_request(server, token, args.single, 4, seed=2000 + run))
                c0.append(bench_commits(2000, 4))
                print(
                    f"run {run + 1}: (a) {a1[-1]:,.0f}/s  (a4) {a4[-1]:,.0f}/s  "
                    f"(b) {b[-1]:,.0f}/s  (c) {c[-1]:,.0f}/s  (c, 4 clients) {c4[-1]:,.0f}/s  "
                    f"(c0) {c0[-1]:,.0f}/s",
                    flush=True,
                )
        finally:
            server.stop()
        ma1, ma4, mb, mc, mc4, mc0 = (statistics.median(x) for x in (a1, a4, b, c, c4, c0))
        print(
            "\nweb server: governance/platform/webserver.py (Granian), "
            f"workers {args.workers or 'default'}; "
            f"{args.events:,} events per run; medians of {args.repeat} runs"
        )
        print(f"\n(a)  raw COPY, 1k batches, unique key, 1 connection : {ma1:10,.0f} events/s")
        print(f"(a4) raw COPY, same, 4 connections                 : {ma4:10,.0f} events/s")
        print(f"(b)  HTTP, 1,000/request, concurrency 4, all on    : {mb:10,.0f} events/s")
        print(
            f"(c)  HTTP, 1 event/request, concurrency {args.single_concurrency:<3d}        : "
            f"{mc:10,.0f} events/s"
        )
        print(f"(c4) HTTP, 1 event/request, concurrency 4          : {mc4:10,.0f} events/s")
        print(f"(c0) one-row INSERT+COMMIT, 4 connections         : {mc0:10,.0f} commits/s")
        print(
            f"ratio (b)/(a) = {mb / ma1:.2f}   (b)/(a4) = {mb / ma4:.2f}   "
            f"(c)/(c0) = {mc / mc0:.2f}"
        )
        f, cpu_f = [], []
        meter_f = CpuMeter(
            {"postgres": postgres, "client": lambda: [os.getpid()]}, reaped=("postgres",)
        )
        for run in range(args.repeat):
            f.append(
                bench_floor(
                    make_events(args.events, seed=7000 + run), meter_f, django_env(), connect
                )
            )
            cpu_f.append(per_event_us(meter_f.used, args.events))
        print(
            f"(f)  the two mandated writes alone (dedup key + event row), COPY, 1 connection: "
            f"{statistics.median(f):,.0f} events/s = {statistics.median(f) / ma1:.2f} x (a)"
        )
        print_cpu(cpu_a, cpu_b, cpu_f, ma1)
        before, peak, size = peak_rss_16mb(token)
        print(
            f"16 MB request ({size / 2**20:.1f} MiB, ~9,000 events): worker peak RSS "
            f"{peak:.0f} MB (was {before:.0f} MB before it)"
        )
        print(profile_service(make_events(20_000, seed=500), django_env()))
    finally:
        with connect("postgres") as conn:
            conn.autocommit = True
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        if started_cluster:
            devdb.stop(PGDATA)


if __name__ == "__main__":
    main()
