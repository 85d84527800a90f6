"""OTLP over HTTP end to end against the native batch API, same events, same run.

Usage:  .venv/bin/python bench/otlp_http.py [--spans 50000] [--repeat 3]

Uses the ingest benchmark's harness (bench/ingest.py): the worktree's embedded PostgreSQL with
default durability, a throwaway database, the production web server
(governance/platform/webserver.py: Granian), 4 concurrent clients.
The same MCP tools/call spans (the Python SDK's shape: 9 convention attributes, 5 resource
attributes) are sent two ways, each to its own source so neither sees the other's ids:
  baseline: the canonical events they map to, as JSON, to POST /api/v1/events (1,000 a request);
  OTLP:     as ExportTraceServiceRequest protobuf, gzip, to POST /v1/traces (1,000 spans a request).
Prints medians of --repeat runs in events/s and the ratio OTLP / native.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

from governance.platform import devdb  # noqa: E402

# bench/ is a folder of scripts, not a package: load the ingest benchmark's harness by path.
_spec = importlib.util.spec_from_file_location("bench_ingest", BASE / "bench" / "ingest.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)


def build_requests(spans: int, *, seed: int) -> list:
    """ExportTraceServiceRequests of 1,000 spans, stamped now (the core refuses old events)."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    now = time.time_ns()
    requests = []
    for first in range(0, spans, 1000):
        request = trace_service_pb2.ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        for key, value in {
            "service.name": f"mcp-server-{first // 1000 % 20}",
            "service.version": "1.4.2",
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": "1.45.2",
        }.items():
            resource_spans.resource.attributes.add(key=key).value.string_value = value
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "mcp.instrumentation"
        for index in range(first, min(first + 1000, spans)):
            span = scope_spans.spans.add()
            span.trace_id = (seed * 10**9 + index + 1).to_bytes(16, "big")
            span.span_id = (index + 1).to_bytes(8, "big")
            span.name = "tools/call search"
            span.kind = 2
            span.start_time_unix_nano = now - (spans - index) * 1_000_000
            span.end_time_unix_nano = span.start_time_unix_nano + 25_000_000
            for key, value in {
                "mcp.method.name": "tools/call",
                "mcp.session.id": f"s-{index % 5000}",
                "mcp.protocol.version": "2025-11-25",
                "gen_ai.tool.name": f"tool_{index % 30}",
                "gen_ai.operation.name": "execute_tool",
                "jsonrpc.request.id": str(index),
                "network.transport": "tcp",
                "user.id": f"u-{index % 500}",
                "user.email": f"user{index % 500}@example.com",
            }.items():
                span.attributes.add(key=key).value.string_value = value
        requests.append(request)
    return requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="web server workers (default: governance/platform/webserver.py, one per core)",
    )
    args = parser.parse_args()
    started_cluster = devdb.ensure_running(harness.PGDATA)
    devdb.ensure_database(harness.DB, harness.PGDATA)
    try:
        run_all(args)
    finally:
        with harness.connect("postgres") as conn:
            conn.autocommit = True
            conn.execute(f'DROP DATABASE IF EXISTS "{harness.DB}" WITH (FORCE)')
        if started_cluster:
            devdb.stop(harness.PGDATA)


def run_all(args) -> None:
    import orjson

    from audit.otlp_mapping import map_traces

    env = harness.django_env()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE, env=env, check=True)

    def token(name):
        return subprocess.run(
            [sys.executable, "manage.py", "create_source", name],
            cwd=BASE,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    native_token, otlp_token = token("bench-native"), token("bench-otlp")
    server = harness.Server(workers=args.workers)
    otlp_url = server.url.replace("/api/v1/events", "/v1/traces")
    native, otlp = [], []
    try:
        for run in range(args.repeat):
            requests = build_requests(args.spans, seed=run + 1)
            events = [e for r in requests for e in map_traces(r).events]
            assert len(events) == args.spans
            json_bodies = [orjson.dumps(events[i : i + 1000]) for i in range(0, len(events), 1000)]
            otlp_bodies = [gzip.compress(r.SerializeToString()) for r in requests]
            native.append(args.spans / harness.post_all(server.url, native_token, json_bodies, 4))
            otlp.append(args.spans / post_gzip(otlp_url, otlp_token, otlp_bodies, 4))
            print(f"run {run + 1}: native {native[-1]:,.0f}/s  otlp {otlp[-1]:,.0f}/s")
    finally:
        server.stop()
    n, o = statistics.median(native), statistics.median(otlp)
    print(
        f"medians of {args.repeat}: native /api/v1/events {n:,.0f} events/s; "
        f"OTLP /v1/traces {o:,.0f} spans/s; OTLP / native = {o / n:.2f}"
    )


def post_gzip(url, token, bodies, concurrency) -> float:
    """bench/ingest.py's post_all with the OTLP headers; any partial_success body is a failure."""
    return harness.post_all(
        url,
        token,
        bodies,
        concurrency,
        content_type="application/x-protobuf",
        extra_headers={"Content-Encoding": "gzip"},
        accept=lambda status, data: status == 200 and not data,
    )


if __name__ == "__main__":
    main()
