"""OTLP receive path CPU cost: decode + map 1,000-span exports, against bare protobuf parsing.

Run: .venv/bin/python bench/otlp_decode.py
Prints medians of 5 runs (spans/s on one core) and each figure's ratio to the baseline measured
in the same run: gzip inflate + protobuf ParseFromString, the least any OTLP receiver must do;
and OTLP JSON decoding against protobuf's own json_format parser.
No database and no HTTP: the ingest core's storage cost is measured by its own benchmark.
"""

import base64
import gzip
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

import orjson  # noqa: E402
from django.conf import settings  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402

from audit import http_body, otlp  # noqa: E402
from audit.otlp_mapping import map_traces  # noqa: E402

SPANS = 1000
RUNS = 5


def build_request() -> trace_service_pb2.ExportTraceServiceRequest:
    """1,000 tools/call server spans shaped like the Python SDK's (same attribute set as tests)."""
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in {
        "service.name": "weather-mcp",
        "service.version": "1.4.2",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": "1.45.2",
    }.items():
        resource_spans.resource.attributes.add(key=key).value.string_value = value
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "mcp.instrumentation"
    for index in range(SPANS):
        span = scope_spans.spans.add()
        span.trace_id = (index + 1).to_bytes(16, "big")
        span.span_id = (index + 1).to_bytes(8, "big")
        span.name = "tools/call get-weather"
        span.kind = 2
        span.start_time_unix_nano = 1_764_496_800_000_000_000 + index * 1_000_000
        span.end_time_unix_nano = span.start_time_unix_nano + 25_000_000
        for key, value in {
            "mcp.method.name": "tools/call",
            "mcp.session.id": f"s-{index % 50}",
            "mcp.protocol.version": "2025-11-25",
            "gen_ai.tool.name": "get-weather",
            "gen_ai.operation.name": "execute_tool",
            "jsonrpc.request.id": str(index),
            "network.transport": "tcp",
            "user.id": f"u-{index % 200}",
            "user.email": f"user{index % 200}@example.com",
        }.items():
            span.attributes.add(key=key).value.string_value = value
    return request


def median_rate(work) -> float:
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        work()
        timings.append(time.perf_counter() - start)
    return SPANS / statistics.median(timings)


def main() -> None:
    request = build_request()
    wire = gzip.compress(request.SerializeToString())
    as_dict = json_format.MessageToDict(request)
    for span in as_dict["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        # proto3 JSON writes ids in base64; OTLP JSON writes them in hex.
        span["traceId"] = base64.b64decode(span["traceId"]).hex()
        span["spanId"] = base64.b64decode(span["spanId"]).hex()
    json_body = orjson.dumps(as_dict)

    def baseline():
        trace_service_pb2.ExportTraceServiceRequest.FromString(gzip.decompress(wire))

    def protobuf_path():
        body = http_body.decompress(wire, "gzip", limit=settings.OTLP_MAX_DECODED_BYTES)
        mapped = map_traces(otlp.decode(otlp.TRACES, body, otlp.PROTOBUF))
        assert len(mapped.events) == SPANS, mapped.rejected[:1]
        orjson.dumps(mapped.events)

    def json_path():
        mapped = map_traces(otlp.decode(otlp.TRACES, json_body, otlp.JSON))
        assert len(mapped.events) == SPANS, mapped.rejected[:1]
        orjson.dumps(mapped.events)

    proto3_json = orjson.dumps(json_format.MessageToDict(request))  # base64 ids: json_format's

    def json_reference():
        json_format.Parse(
            proto3_json, trace_service_pb2.ExportTraceServiceRequest(), ignore_unknown_fields=True
        )

    def json_decode_only():
        otlp.decode(otlp.TRACES, json_body, otlp.JSON)

    base = median_rate(baseline)
    print(f"{SPANS}-span export, medians of {RUNS} runs, one core")
    print(f"{'baseline: gzip inflate + protobuf parse':<43} {base:>10,.0f} spans/s")
    for label, work in (
        ("gzip protobuf: inflate+decode+map+dumps", protobuf_path),
        ("OTLP JSON: decode+map+dumps", json_path),
    ):
        rate = median_rate(work)
        print(f"{label:<43} {rate:>10,.0f} spans/s  ({rate / base:.2f}x baseline)")
    reference, ours = median_rate(json_reference), median_rate(json_decode_only)
    print(f"{'JSON decode only: protobuf json_format':<43} {reference:>10,.0f} spans/s")
    print(
        f"{'JSON decode only: audit.otlp':<43} {ours:>10,.0f} spans/s  "
        f"({ours / reference:.1f}x json_format)"
    )


if __name__ == "__main__":
    main()
