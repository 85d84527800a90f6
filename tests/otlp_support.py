"""Helpers for the OTLP tests: a capture HTTP server, and real SDK exports of MCP spans and logs.

The payloads under test are produced by the real OpenTelemetry Python SDK and its OTLP/HTTP
exporters, sent over loopback to a server on an ephemeral port, so the bytes are exactly what a
production exporter sends (protobuf, gzip, headers).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

SERVER_RESOURCE = {
    "service.name": "weather-mcp",
    "service.version": "1.4.2",
    "deployment.environment.name": "prod",
}
CLIENT_RESOURCE = {"service.name": "claude-desktop", "service.version": "0.9.1"}


@dataclass
class Captured:
    path: str
    headers: dict  # lower-cased names
    body: bytes


@dataclass
class CaptureServer:
    """An OTLP/HTTP endpoint on 127.0.0.1 that records every request and answers 200."""

    requests: list[Captured] = field(default_factory=list)
    base_url: str = ""

    def last(self) -> Captured:
        return self.requests[-1]


def start_capture_server() -> tuple[CaptureServer, ThreadingHTTPServer]:
    capture = CaptureServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            capture.requests.append(
                Captured(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval keeps shutdown() (once per test) quick.
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    capture.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    return capture, server


def make_tracer(resource: dict):
    """A tracer whose finished spans are kept in memory until exported on purpose."""
    provider = TracerProvider(resource=Resource.create(resource))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider.get_tracer("mcp.instrumentation.test", "1.0.0"), memory


def export_spans(spans, endpoint: str, *, headers: dict | None = None, gzip: bool = True):
    exporter = OTLPSpanExporter(
        endpoint=endpoint,
        headers=headers,
        timeout=10,
        compression=Compression.Gzip if gzip else Compression.NoCompression,
    )
    try:
        return exporter.export(spans)
    finally:
        exporter.shutdown()


def record_tool_call(
    tracer,
    *,
    name="tools/call get-weather",
    kind=SpanKind.SERVER,
    attributes: dict | None = None,
    error: str | None = None,
):
    """One MCP tools/call span with the conventions' attributes (plus overrides)."""
    attrs = {
        "mcp.method.name": "tools/call",
        "mcp.session.id": "191c4850af6c49e08843a3f6c80e5046",
        "mcp.protocol.version": "2025-11-25",
        "gen_ai.tool.name": "get-weather",
        "gen_ai.operation.name": "execute_tool",
        "jsonrpc.request.id": "7",
        "network.transport": "tcp",
        "user.id": "u-123",
        "user.email": "alice@example.com",
    }
    attrs.update(attributes or {})
    with tracer.start_as_current_span(name, kind=kind, attributes=attrs) as span:
        if error:
            span.set_status(Status(StatusCode.ERROR, error))
    return span


# Spans shaped like the official MCP Python SDK's (mcp.server._otel, mcp.shared.jsonrpc_dispatcher):
# the server's SERVER span per inbound request, the client's CLIENT span per outbound request
# ("MCP send {method} {target}"), with what gateways and auth middleware add (oauth.client_id,
# server.address / server.port / url.full), and the INTERNAL span of a task's execution.
SDK_CLIENT_RESOURCE = {"service.name": "reporting-agent", "service.version": "3.2.0"}


def record_sdk_server_call(
    tracer,
    request_id: int,
    *,
    tool="get-weather",
    attributes: dict | None = None,
    tool_error: bool = False,
):
    """A SERVER span as the SDK's OpenTelemetryMiddleware records a tools/call."""
    attrs = {
        "mcp.method.name": "tools/call",
        "mcp.protocol.version": "2025-11-25",
        "jsonrpc.request.id": str(request_id),
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        **(attributes or {}),
    }
    with tracer.start_as_current_span(
        f"tools/call {tool}", kind=SpanKind.SERVER, attributes=attrs
    ) as span:
        if tool_error:  # a CallToolResult with isError: the SDK's own marking
            span.set_attribute("error.type", "tool_error")
            span.set_status(Status(StatusCode.ERROR))
    return span


def record_sdk_client_call(
    tracer, request_id: int, *, tool="get-weather", attributes: dict | None = None
):
    """A CLIENT span as the SDK's dispatcher records an outbound tools/call."""
    attrs = {
        "mcp.method.name": "tools/call",
        "jsonrpc.request.id": str(request_id),
        **(attributes or {}),
    }
    with tracer.start_as_current_span(
        f"MCP send tools/call {tool}", kind=SpanKind.CLIENT, attributes=attrs
    ) as span:
        pass
    return span


def record_task_execution(
    tracer, task_id: str, *, status="completed", tool="get-weather", attributes: dict | None = None
):
    """The INTERNAL span of a task-augmented tool call's execution (no mcp.method.name)."""
    attrs = {
        "mcp.task.id": task_id,
        "mcp.task.status": status,
        "gen_ai.tool.name": tool,
        "gen_ai.operation.name": "execute_tool",
        **(attributes or {}),
    }
    with tracer.start_as_current_span(
        f"execute_tool {tool}", kind=SpanKind.INTERNAL, attributes=attrs
    ) as span:
        if status == "failed":
            span.set_attribute("error.type", "tool_error")
            span.set_status(Status(StatusCode.ERROR, "upstream weather API timed out"))
    return span


def make_logger(resource: dict):
    provider = LoggerProvider(resource=Resource.create(resource))
    memory = InMemoryLogRecordExporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    return provider.get_logger("mcp.gateway.audit", "2.0.0"), memory


def export_logs(records, endpoint: str, *, headers: dict | None = None, gzip: bool = True):
    exporter = OTLPLogExporter(
        endpoint=endpoint,
        headers=headers,
        timeout=10,
        compression=Compression.Gzip if gzip else Compression.NoCompression,
    )
    try:
        return exporter.export(records)
    finally:
        exporter.shutdown()


@pytest.fixture
def capture():
    """A capture server for one test, shut down after it."""
    capture, server = start_capture_server()
    yield capture
    server.shutdown()
    server.server_close()


def decode_captured(captured: Captured, signal):
    """What the console does with a request body: undo gzip, decode, map."""
    from audit import http_body, otlp
    from audit.otlp_mapping import map_logs, map_traces

    body = http_body.decompress(
        captured.body,
        captured.headers.get("content-encoding"),
        limit=settings.OTLP_MAX_DECODED_BYTES,
    )
    media = otlp.media_type(captured.headers.get("content-type"))
    message = otlp.decode(signal, body, media)
    return (map_traces if signal is otlp.TRACES else map_logs)(message)
