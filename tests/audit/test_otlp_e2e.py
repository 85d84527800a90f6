"""End to end: the real SDK exporters send to the live server, the real ingest core stores."""

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.trace.export import SpanExportResult

from audit.models import AuditEvent
from audit.services.sources import create_source
from inventory.models import Task
from tests.otlp_support import (
    SERVER_RESOURCE,
    export_logs,
    export_spans,
    make_logger,
    make_tracer,
    record_tool_call,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _source_with_token():
    """A new event source and its bearer token (through the ingest core's own code)."""
    return create_source(name="otel-collector")


def _stored(source) -> list:
    return list(AuditEvent.objects.filter(source=source))


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_sdk_spans_sent_twice_to_the_live_server_are_stored_once(live_server):
    source, token = _source_with_token()
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_tool_call(tracer)
    record_tool_call(tracer, attributes={"gen_ai.tool.name": "get-forecast"})
    spans = memory.get_finished_spans()

    for _ in range(2):
        result = export_spans(spans, live_server.url + "/v1/traces", headers=_auth(token))
        assert result == SpanExportResult.SUCCESS
    stored = sorted(_stored(source), key=lambda event: event.tool)
    assert [event.tool for event in stored] == ["get-forecast", "get-weather"]
    assert {(e.method, e.server_name, e.outcome, e.session_id) for e in stored} == {
        ("tools/call", "weather-mcp", "success", "191c4850af6c49e08843a3f6c80e5046")
    }
    context = spans[0].get_span_context()
    assert stored[1].event_id == f"otlp:{context.trace_id:032x}:{context.span_id:016x}"


def test_a_task_span_updates_the_task_inventory(live_server):
    source, token = _source_with_token()
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_tool_call(
        tracer,
        name="tasks/get",
        attributes={
            "mcp.method.name": "tasks/get",
            "mcp.task.id": "t-7f3c",
            "mcp.task.status": "input_required",
            "mcp.task.status_message": "Needs approval",
            "mcp.task.ttl": 3600000,
        },
    )
    result = export_spans(
        memory.get_finished_spans(), live_server.url + "/v1/traces", headers=_auth(token)
    )

    assert result == SpanExportResult.SUCCESS
    task = Task.objects.get(task_id="t-7f3c")
    assert (task.status, task.status_message) == ("input_required", "Needs approval")
    assert task.server.name == "weather-mcp"


def test_an_exporter_retry_after_a_lost_reply_stores_nothing_twice(live_server):
    """A proxy forwards the first export, then answers 503 as if the reply had been lost: the
    SDK exporter retries the same spans, and the console keeps one copy."""
    source, token = _source_with_token()
    forwarded = []

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            reply = httpx.post(live_server.url + self.path, content=body, headers=headers)
            forwarded.append(reply.status_code)
            status = 503 if len(forwarded) == 1 else reply.status_code
            self.send_response(status)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Type", reply.headers.get("Content-Type", ""))
            self.send_header("Content-Length", str(len(reply.content)))
            self.end_headers()
            self.wfile.write(reply.content)

        def log_message(self, *args):
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(
        target=proxy.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    try:
        tracer, memory = make_tracer(SERVER_RESOURCE)
        record_tool_call(tracer)
        result = export_spans(
            memory.get_finished_spans(),
            f"http://127.0.0.1:{proxy.server_address[1]}/v1/traces",
            headers=_auth(token),
        )
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert result == SpanExportResult.SUCCESS
    assert forwarded == [200, 200]
    assert len(_stored(source)) == 1


def test_sdk_logs_reach_the_live_server_and_are_stored(live_server):
    source, token = _source_with_token()
    logger, memory = make_logger(SERVER_RESOURCE)
    logger.emit(
        body="call", attributes={"mcp.method.name": "tools/call", "gen_ai.tool.name": "get-weather"}
    )
    result = export_logs(
        memory.get_finished_logs(), live_server.url + "/v1/logs", headers=_auth(token)
    )

    assert result == LogRecordExportResult.SUCCESS
    assert len(_stored(source)) == 1


def test_the_live_server_reports_rejected_spans_as_partial_success(live_server, capture):
    source, token = _source_with_token()
    tracer, memory = make_tracer(SERVER_RESOURCE)
    with tracer.start_as_current_span("SELECT weather"):
        pass
    record_tool_call(tracer)
    export_spans(memory.get_finished_spans(), capture.base_url + "/v1/traces")
    sent = capture.last()

    reply = httpx.post(
        live_server.url + "/v1/traces",
        content=sent.body,
        headers={
            **_auth(token),
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "gzip",
        },
    )

    assert reply.status_code == 200
    partial = trace_service_pb2.ExportTraceServiceResponse.FromString(reply.content).partial_success
    assert partial.rejected_spans == 1
    assert "no mcp.method.name" in partial.error_message
    assert len(_stored(source)) == 1


def test_the_live_server_refuses_a_wrong_token_with_401(live_server):
    reply = httpx.post(
        live_server.url + "/v1/traces",
        content=b"",
        headers={**_auth("not-a-token"), "Content-Type": "application/json"},
    )
    assert reply.status_code == 401


def _json_export(*start_times_ns: int) -> bytes:
    """An OTLP JSON trace export with one tools/call span per start time."""
    spans = [
        {
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": f"{i + 1:016x}",
            "name": "tools/call get-weather",
            "kind": 2,
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + 1000),
            "attributes": [{"key": "mcp.method.name", "value": {"stringValue": "tools/call"}}],
        }
        for i, start in enumerate(start_times_ns)
    ]
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})


def test_spans_dated_far_in_the_future_or_past_are_rejected_and_the_one_beside_stored(
    live_server, settings
):
    source, token = _source_with_token()
    now, second = time.time_ns(), 10**9
    too_late = now + (settings.AUDIT_MAX_CLOCK_SKEW_SECONDS + 600) * second
    too_early = now - (settings.AUDIT_MAX_EVENT_AGE_DAYS * 86_400 + 3600) * second
    reply = httpx.post(
        live_server.url + "/v1/traces",
        content=_json_export(too_late, now, too_early),
        headers={**_auth(token), "Content-Type": "application/json"},
    )

    assert reply.status_code == 200, reply.text
    partial = reply.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"
    assert "span 0000000000000001: time: is in the future" in partial["errorMessage"]
    assert (
        f"span 0000000000000003: time: is more than {settings.AUDIT_MAX_EVENT_AGE_DAYS} days "
        "in the past" in partial["errorMessage"]
    )
    assert [e.event_id for e in _stored(source)] == [
        "otlp:5b8efff798038103d269b633813fc60c:0000000000000002"
    ]


def test_bodies_that_are_not_an_export_get_400_413_or_415_over_http(live_server, settings):
    """The refusals of a whole request, from the live server: nothing is stored, never a 500."""
    source, token = _source_with_token()
    settings.OTLP_MAX_BODY_BYTES = 64 * 1024
    settings.OTLP_MAX_DECODED_BYTES = 1024 * 1024
    json_type, protobuf = "application/json", "application/x-protobuf"
    cases = [
        (b'{"resourceSpans": [}', json_type, {}, 400),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "caf\xe9"}]}]}]}',
            json_type,
            {},
            400,
        ),
        (b"\xff\xff\xff garbage", protobuf, {}, 400),
        (b"not gzip at all", protobuf, {"Content-Encoding": "gzip"}, 400),
        (b"\0" * 100_000, protobuf, {}, 413),
        (gzip.compress(b"\0" * (8 * 1024 * 1024)), protobuf, {"Content-Encoding": "gzip"}, 413),
        (_json_export(time.time_ns()), "text/plain", {}, 415),
        (_json_export(time.time_ns()), json_type, {"Content-Encoding": "br"}, 415),
    ]
    for body, content_type, headers, status in cases:
        reply = httpx.post(
            live_server.url + "/v1/traces",
            content=body,
            headers={**_auth(token), "Content-Type": content_type, **headers},
        )
        assert reply.status_code == status, (body[:40], reply.status_code, reply.text)
        assert reply.headers["Content-Type"] in (json_type, protobuf)
    assert not _stored(source)
