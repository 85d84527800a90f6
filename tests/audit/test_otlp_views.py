"""POST /v1/traces and /v1/logs with the real ingest core: status codes, OTLP replies, partial
success, retries, and never a 500 whatever the bytes."""

import gzip
import io
import random

import orjson
import pytest
from django.db import OperationalError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from audit import views_otlp
from audit.models import AuditEvent
from audit.services.sources import create_source, set_source_enabled
from tests.otlp_support import (
    SERVER_RESOURCE,
    export_logs,
    export_spans,
    make_logger,
    make_tracer,
    record_tool_call,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def source_token():
    return create_source(name="otel-collector")


def _post(client, path, body, token, *, content_type="application/x-protobuf", **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(path, data=body, content_type=content_type, **headers)


def _tools(source) -> list[str]:
    return sorted(AuditEvent.objects.filter(source=source).values_list("tool", flat=True))


def _sdk_trace_body(capture, *tool_names, non_mcp=0, bad_task_status=()):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    for _ in range(non_mcp):
        with tracer.start_as_current_span("SELECT weather"):
            pass
    for tool in tool_names:
        extra = (
            {"mcp.task.id": f"t-{tool}", "mcp.task.status": "bogus"}
            if tool in bad_task_status
            else {}
        )
        record_tool_call(tracer, attributes={"gen_ai.tool.name": tool, **extra})
    export_spans(memory.get_finished_spans(), capture.base_url + "/v1/traces")
    return capture.last().body  # gzip protobuf, exactly as the SDK sent it


def test_spans_from_the_sdk_are_stored_and_answered_with_an_empty_protobuf_response(
    client, source_token, capture
):
    source, token = source_token
    body = _sdk_trace_body(capture, "get-weather", "get-forecast")
    response = _post(client, "/v1/traces", body, token, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-protobuf"
    reply = trace_service_pb2.ExportTraceServiceResponse.FromString(response.content)
    assert not reply.HasField("partial_success")
    assert _tools(source) == ["get-forecast", "get-weather"]


def test_a_retried_export_does_not_store_anything_twice(client, source_token, capture):
    source, token = source_token
    body = _sdk_trace_body(capture, "get-weather")
    for _ in range(2):
        response = _post(client, "/v1/traces", body, token, HTTP_CONTENT_ENCODING="gzip")
        assert response.status_code == 200
        assert response.content == b""  # a duplicate is not a rejection
    assert _tools(source) == ["get-weather"]


def test_unmappable_and_core_rejected_spans_are_reported_as_partial_success(
    client, source_token, capture
):
    source, token = source_token
    body = _sdk_trace_body(
        capture, "get-weather", "bad-task", non_mcp=2, bad_task_status={"bad-task"}
    )
    response = _post(client, "/v1/traces", body, token, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    partial = trace_service_pb2.ExportTraceServiceResponse.FromString(
        response.content
    ).partial_success
    assert partial.rejected_spans == 3
    assert partial.error_message.startswith("3 of 4 spans rejected: ")
    assert "no mcp.method.name" in partial.error_message
    assert "task.status: must be one of" in partial.error_message
    assert _tools(source) == ["get-weather"]


def test_a_json_export_gets_a_json_reply_with_partial_success(client, source_token):
    source, token = source_token
    now_ns = str(int(__import__("time").time() * 1e9))
    body = orjson.dumps(
        {
            "resourceLogs": [
                {
                    "scopeLogs": [
                        {
                            "logRecords": [
                                {"timeUnixNano": now_ns, "body": {"stringValue": "no MCP here"}},
                                {
                                    "timeUnixNano": now_ns,
                                    "attributes": [
                                        {
                                            "key": "mcp.method.name",
                                            "value": {"stringValue": "tools/list"},
                                        }
                                    ],
                                },
                            ]
                        }
                    ]
                }
            ]
        }
    )
    response = _post(client, "/v1/logs", body, token, content_type="application/json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    partial = orjson.loads(response.content)["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert "log record 0" in partial["errorMessage"]
    assert AuditEvent.objects.filter(source=source, method="tools/list").count() == 1


def test_logs_from_the_sdk_are_stored(client, source_token, capture):
    source, token = source_token
    logger, memory = make_logger(SERVER_RESOURCE)
    logger.emit(
        body="call", attributes={"mcp.method.name": "tools/call", "gen_ai.tool.name": "get-weather"}
    )
    export_logs(memory.get_finished_logs(), capture.base_url + "/v1/logs")
    response = _post(client, "/v1/logs", capture.last().body, token, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    assert (
        logs_service_pb2.ExportLogsServiceResponse.FromString(response.content)
        == logs_service_pb2.ExportLogsServiceResponse()
    )
    assert _tools(source) == ["get-weather"]


@pytest.mark.parametrize("token", [None, "mcpg_wrong-token"])
def test_a_missing_or_wrong_token_gets_401_with_a_status_body(client, source_token, token):
    response = _post(client, "/v1/traces", b"", token)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"token" in response.content
    assert not AuditEvent.objects.exists()


def test_a_disabled_source_gets_401(client, source_token):
    source, token = source_token
    set_source_enabled(source=source, enabled=False)
    assert _post(client, "/v1/traces", b"", token).status_code == 401


def test_a_source_over_its_rate_limit_gets_429_with_retry_after(client, mid_minute_clock):
    source, token = create_source(name="chatty", rate_limit_per_minute=1)
    # An empty export: the test client drops Content-Type on an empty body, so JSON "{}".
    assert (
        _post(client, "/v1/traces", b"{}", token, content_type="application/json").status_code
        == 200
    )
    response = _post(client, "/v1/traces", b"{}", token, content_type="application/json")

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert orjson.loads(response.content)["code"] == 8  # RESOURCE_EXHAUSTED


def test_a_wrong_content_type_gets_415(client, source_token):
    response = _post(
        client, "/v1/traces", b"<xml/>", source_token[1], content_type="application/xml"
    )
    assert response.status_code == 415


def test_an_unsupported_content_encoding_gets_415(client, source_token):
    response = _post(client, "/v1/traces", b"...", source_token[1], HTTP_CONTENT_ENCODING="br")
    assert response.status_code == 415


def test_a_body_over_the_size_limit_gets_413(client, source_token, settings):
    settings.OTLP_MAX_BODY_BYTES = 1024
    response = _post(client, "/v1/traces", b"\0" * 4096, source_token[1])
    assert response.status_code == 413


def test_a_gzip_bomb_gets_413(client, source_token, settings):
    settings.OTLP_MAX_DECODED_BYTES = 1024 * 1024
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    response = _post(client, "/v1/traces", bomb, source_token[1], HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413


def test_garbage_protobuf_gets_400_with_a_protobuf_status(client, source_token):
    from google.rpc import status_pb2  # test-only: the exporter's dependency

    response = _post(client, "/v1/traces", b"\xff\xff\xff garbage", source_token[1])
    assert response.status_code == 400
    status = status_pb2.Status.FromString(response.content)
    assert status.code == 3 and "not a valid protobuf" in status.message


def test_get_is_not_allowed(client):
    assert client.get("/v1/traces").status_code == 405


def test_mutated_payloads_never_get_a_500(client, source_token, capture):
    """Bit flips, truncations and splices of a real export: every reply is 200 or 400."""
    token = source_token[1]
    body = gzip.decompress(_sdk_trace_body(capture, "get-weather", "get-forecast"))
    json_body = orjson.dumps(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "5b8efff798038103d269b633813fc60c",
                                    "spanId": "eee19b7ec3c1b174",
                                    "startTimeUnixNano": "1",
                                    "attributes": [
                                        {
                                            "key": "mcp.method.name",
                                            "value": {"stringValue": "tools/call"},
                                        }
                                    ],
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    )
    rng = random.Random(20261130)
    for original, content_type in (
        (body, "application/x-protobuf"),
        (json_body, "application/json"),
    ):
        for _ in range(40):
            mutated = bytearray(original)
            for _ in range(rng.randint(1, 4)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            mutated = bytes(mutated[: rng.randint(1, len(mutated))])
            for path in ("/v1/traces", "/v1/logs"):
                response = _post(client, path, mutated, token, content_type=content_type)
                assert response.status_code in (200, 400), (path, mutated)


def test_a_database_outage_gets_503_with_retry_after_so_exporters_retry(
    client, source_token, capture, monkeypatch
):
    def broken(*, source, events, limits):
        raise OperationalError("connection refused")

    monkeypatch.setattr(views_otlp, "ingest_events", broken)
    body = _sdk_trace_body(capture, "get-weather")
    response = _post(client, "/v1/traces", body, source_token[1], HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_a_database_outage_while_authenticating_gets_503_not_500(client, monkeypatch):
    def broken(request):
        raise OperationalError("the database system is starting up")

    monkeypatch.setattr(views_otlp, "source_from_request", broken)
    response = _post(client, "/v1/logs", b"", "mcpg_any", content_type="application/json")

    assert response.status_code == 503
    assert orjson.loads(response.content)["code"] == 14  # UNAVAILABLE


def test_a_big_export_is_ingested_in_chunks_and_rejections_keep_their_span(
    client, source_token, capture, settings, monkeypatch
):
    source, token = source_token
    settings.AUDIT_MAX_EVENTS_PER_REQUEST = 2
    calls = []
    real = views_otlp.ingest_events

    def spy(*, source, events, limits):
        calls.append(list(events))
        return real(source=source, events=events, limits=limits)

    monkeypatch.setattr(views_otlp, "ingest_events", spy)
    body = _sdk_trace_body(capture, "a", "b", "c", "bad", "e", bad_task_status={"bad"})
    response = _post(client, "/v1/traces", body, token, HTTP_CONTENT_ENCODING="gzip")

    partial = trace_service_pb2.ExportTraceServiceResponse.FromString(
        response.content
    ).partial_success
    assert _tools(source) == ["a", "b", "c", "e"]
    assert partial.rejected_spans == 1
    # plain spans arrive pre-checked (FastEvent), the doubtful one as a dict for the Python path
    bad = next(e for e in calls[1] if isinstance(e, dict) and e["tool"] == "bad")
    assert sum(not isinstance(e, dict) for call in calls for e in call) == 4
    assert bad["attributes"]["otel"]["span_id"] in partial.error_message
    assert [len(call) for call in calls] == [2, 2, 1]


def test_a_chunked_body_from_a_terminating_server_is_read_from_its_decoded_input(
    rf, source_token, capture
):
    source, token = source_token
    body = _sdk_trace_body(capture, "get-weather")
    request = rf.post(
        "/v1/traces",
        data=b"",
        content_type="application/x-protobuf",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    request.META.pop("CONTENT_LENGTH", None)
    request.META["CONTENT_TYPE"] = "application/x-protobuf"  # dropped by rf on an empty body
    request.META["wsgi.input_terminated"] = True
    request.META["wsgi.input"] = io.BytesIO(body)  # what Granian hands over, de-chunked

    response = views_otlp.traces(request)

    assert response.status_code == 200
    assert _tools(source) == ["get-weather"]


def test_a_chunked_body_elsewhere_gets_411_instead_of_vanishing(rf, source_token):
    request = rf.post(
        "/v1/traces",
        data=b"",
        content_type="application/x-protobuf",
        HTTP_AUTHORIZATION=f"Bearer {source_token[1]}",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    request.META.pop("CONTENT_LENGTH", None)
    request.META["CONTENT_TYPE"] = "application/x-protobuf"  # dropped by rf on an empty body

    assert views_otlp.traces(request).status_code == 411
