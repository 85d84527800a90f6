"""POST /v1/traces and /v1/logs: status codes, OTLP replies, partial success, never a 500.

The ingest core (`audit.sources`, `audit.services.ingest`) is replaced here by a small stand-in
with the same interface, so these tests pin the receiver's own behaviour; the end-to-end tests in
test_otlp_e2e.py run the real core behind a live server.
"""

import gzip
import random
import sys
import types

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from tests.otlp_support import (
    SERVER_RESOURCE,
    capture,  # noqa: F401 (fixture)
    export_logs,
    export_spans,
    make_logger,
    make_tracer,
    record_tool_call,
)

TOKEN = "otlp-test-token-1"


class _StandInCore:
    """The event.md interface of the ingest core, storing into a dict keyed by event id."""

    def __init__(self):
        self.stored: dict[str, dict] = {}
        self.retry_after = None
        self.reject_tools = {"forbidden-tool"}
        self.calls: list[list[dict]] = []

    def install(self, monkeypatch):
        core = self

        class SourceAuthError(Exception):
            def __init__(self, message, status=401):
                super().__init__(message)
                self.message, self.status = message, status

        def source_from_request(request):
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                raise SourceAuthError("Missing or invalid bearer token.")
            return "the-source"

        def ingest_events(*, source, events):
            core.calls.append(list(events))
            result = types.SimpleNamespace(accepted=0, duplicates=0, rejected=[])
            for index, event in enumerate(events):
                if event.get("tool") in core.reject_tools:
                    result.rejected.append({"index": index, "id": event["id"],
                                            "errors": {"tool": "is blocked for this source"}})
                elif event["id"] in core.stored:
                    result.duplicates += 1
                else:
                    core.stored[event["id"]] = event
                    result.accepted += 1
            return result

        sources = types.ModuleType("audit.sources")
        sources.SourceAuthError = SourceAuthError
        sources.source_from_request = source_from_request
        sources.rate_limit_retry_after = lambda source: core.retry_after
        services = types.ModuleType("audit.services")
        ingest = types.ModuleType("audit.services.ingest")
        ingest.ingest_events = ingest_events
        services.ingest = ingest
        monkeypatch.setitem(sys.modules, "audit.sources", sources)
        monkeypatch.setitem(sys.modules, "audit.services", services)
        monkeypatch.setitem(sys.modules, "audit.services.ingest", ingest)


@pytest.fixture
def core(monkeypatch):
    stand_in = _StandInCore()
    stand_in.install(monkeypatch)
    return stand_in


def _post(client, path, body, *, content_type="application/x-protobuf", token=TOKEN, **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(path, data=body, content_type=content_type, **headers)


def _sdk_trace_body(capture, *tool_names, non_mcp=0):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    for _ in range(non_mcp):
        with tracer.start_as_current_span("SELECT weather"):
            pass
    for tool in tool_names:
        record_tool_call(tracer, attributes={"gen_ai.tool.name": tool})
    export_spans(memory.get_finished_spans(), capture.base_url + "/v1/traces")
    return capture.last().body  # gzip protobuf, exactly as the SDK sent it


def test_spans_from_the_sdk_are_stored_and_answered_with_an_empty_protobuf_response(
        client, core, capture):
    body = _sdk_trace_body(capture, "get-weather", "get-forecast")
    response = _post(client, "/v1/traces", body, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-protobuf"
    reply = trace_service_pb2.ExportTraceServiceResponse.FromString(response.content)
    assert not reply.HasField("partial_success")
    assert sorted(event["tool"] for event in core.stored.values()) == ["get-forecast",
                                                                      "get-weather"]


def test_a_retried_export_does_not_store_anything_twice(client, core, capture):
    body = _sdk_trace_body(capture, "get-weather")
    for _ in range(2):
        assert _post(client, "/v1/traces", body, HTTP_CONTENT_ENCODING="gzip").status_code == 200
    assert len(core.stored) == 1


def test_unmappable_and_core_rejected_spans_are_reported_as_partial_success(
        client, core, capture):
    body = _sdk_trace_body(capture, "get-weather", "forbidden-tool", non_mcp=2)
    response = _post(client, "/v1/traces", body, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    partial = trace_service_pb2.ExportTraceServiceResponse.FromString(
        response.content).partial_success
    assert partial.rejected_spans == 3
    assert partial.error_message.startswith("3 of 4 spans rejected: ")
    assert "no mcp.method.name" in partial.error_message
    assert "tool: is blocked for this source" in partial.error_message
    assert [event["tool"] for event in core.stored.values()] == ["get-weather"]


def test_a_json_export_gets_a_json_reply_with_partial_success(client, core):
    body = orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1764496800000000000", "body": {"stringValue": "no MCP here"}},
        {"timeUnixNano": "1764496800000000000",
         "attributes": [{"key": "mcp.method.name", "value": {"stringValue": "tools/list"}}]},
    ]}]}]})
    response = _post(client, "/v1/logs", body, content_type="application/json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    partial = orjson.loads(response.content)["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert "log record 0" in partial["errorMessage"]
    assert len(core.stored) == 1


def test_logs_from_the_sdk_are_stored(client, core, capture):
    logger, memory = make_logger(SERVER_RESOURCE)
    logger.emit(body="call", attributes={"mcp.method.name": "tools/call",
                                         "gen_ai.tool.name": "get-weather"})
    export_logs(memory.get_finished_logs(), capture.base_url + "/v1/logs")
    response = _post(client, "/v1/logs", capture.last().body, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    assert logs_service_pb2.ExportLogsServiceResponse.FromString(response.content) == \
        logs_service_pb2.ExportLogsServiceResponse()
    assert [event["tool"] for event in core.stored.values()] == ["get-weather"]


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_a_missing_or_wrong_token_gets_401_with_a_status_body(client, core, token):
    response = _post(client, "/v1/traces", b"", token=token)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"bearer token" in response.content
    assert core.stored == {}


def test_a_source_over_its_rate_limit_gets_429_with_retry_after(client, core):
    core.retry_after = 7
    response = _post(client, "/v1/traces", b"", content_type="application/json")

    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    assert orjson.loads(response.content)["code"] == 8  # RESOURCE_EXHAUSTED


def test_a_wrong_content_type_gets_415(client, core):
    response = _post(client, "/v1/traces", b"<xml/>", content_type="application/xml")
    assert response.status_code == 415


def test_an_unsupported_content_encoding_gets_415(client, core):
    response = _post(client, "/v1/traces", b"...", HTTP_CONTENT_ENCODING="br")
    assert response.status_code == 415


def test_a_body_over_the_size_limit_gets_413(client, core, settings):
    settings.OTLP_MAX_BODY_BYTES = 1024
    response = _post(client, "/v1/traces", b"\0" * 4096)
    assert response.status_code == 413


def test_a_gzip_bomb_gets_413(client, core, settings):
    settings.OTLP_MAX_DECODED_BYTES = 1024 * 1024
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    response = _post(client, "/v1/traces", bomb, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413


def test_garbage_protobuf_gets_400_with_a_protobuf_status(client, core):
    from google.rpc import status_pb2  # test-only: the exporter's dependency

    response = _post(client, "/v1/traces", b"\xff\xff\xff garbage")
    assert response.status_code == 400
    status = status_pb2.Status.FromString(response.content)
    assert status.code == 3 and "not a valid protobuf" in status.message


def test_get_is_not_allowed(client, core):
    assert client.get("/v1/traces").status_code == 405


def test_mutated_payloads_never_get_a_500(client, core, capture):
    """Bit flips, truncations and splices of a real export: every reply is 200 or 400."""
    body = gzip.decompress(_sdk_trace_body(capture, "get-weather", "get-forecast"))
    json_body = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
         "startTimeUnixNano": "1", "attributes": [
             {"key": "mcp.method.name", "value": {"stringValue": "tools/call"}}]}]}]}]})
    rng = random.Random(20261130)
    for original, content_type in ((body, "application/x-protobuf"),
                                   (json_body, "application/json")):
        for _ in range(60):
            mutated = bytearray(original)
            for _ in range(rng.randint(1, 4)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            mutated = bytes(mutated[:rng.randint(1, len(mutated))])
            for path in ("/v1/traces", "/v1/logs"):
                response = _post(client, path, mutated, content_type=content_type)
                assert response.status_code in (200, 400), (path, mutated)


def test_a_database_outage_gets_503_with_retry_after_so_exporters_retry(client, core, capture,
                                                                        monkeypatch):
    from django.db import OperationalError

    def broken(*, source, events):
        raise OperationalError("connection refused")

    monkeypatch.setattr(sys.modules["audit.services.ingest"], "ingest_events", broken)
    body = _sdk_trace_body(capture, "get-weather")
    response = _post(client, "/v1/traces", body, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_a_database_outage_while_authenticating_gets_503_not_500(client, core, monkeypatch):
    from django.db import OperationalError

    def broken(request):
        raise OperationalError("the database system is starting up")

    monkeypatch.setattr(sys.modules["audit.sources"], "source_from_request", broken)
    response = _post(client, "/v1/logs", b"", content_type="application/json")

    assert response.status_code == 503
    assert orjson.loads(response.content)["code"] == 14  # UNAVAILABLE


def test_a_big_export_is_ingested_in_chunks_and_rejections_keep_their_span(
        client, core, capture, settings):
    settings.AUDIT_MAX_EVENTS_PER_REQUEST = 2
    body = _sdk_trace_body(capture, "a", "b", "c", "forbidden-tool", "e")
    response = _post(client, "/v1/traces", body, HTTP_CONTENT_ENCODING="gzip")

    partial = trace_service_pb2.ExportTraceServiceResponse.FromString(
        response.content).partial_success
    assert sorted(event["tool"] for event in core.stored.values()) == ["a", "b", "c", "e"]
    assert partial.rejected_spans == 1
    forbidden = next(e for e in core.calls[1] if e["tool"] == "forbidden-tool")
    assert forbidden["attributes"]["otel"]["span_id"] in partial.error_message
    assert [len(call) for call in core.calls] == [2, 2, 1]
