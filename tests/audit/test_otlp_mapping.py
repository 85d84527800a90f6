"""Mapping of real SDK exports (protobuf, gzip) that follow the MCP conventions to audit events."""

from datetime import datetime

from opentelemetry._logs import SeverityNumber

from audit import otlp
from tests.otlp_support import (
    CLIENT_RESOURCE,
    SERVER_RESOURCE,
    SpanKind,
    decode_captured,
    export_logs,
    export_spans,
    make_logger,
    make_tracer,
    record_tool_call,
)


def _export_and_map_spans(capture, spans, **kwargs):
    export_spans(spans, capture.base_url + "/v1/traces", **kwargs)
    return decode_captured(capture.last(), otlp.TRACES)


def test_the_sdk_exporter_sends_gzip_protobuf_to_the_traces_path(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_tool_call(tracer)
    export_spans(
        memory.get_finished_spans(),
        capture.base_url + "/v1/traces",
        headers={"Authorization": "Bearer abc"},
    )
    sent = capture.last()
    assert sent.path == "/v1/traces"
    assert sent.headers["content-type"] == "application/x-protobuf"
    assert sent.headers["content-encoding"] == "gzip"
    assert sent.body[:2] == b"\x1f\x8b"


def test_a_server_tool_call_span_maps_every_mcp_attribute_to_its_canonical_field(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    span = record_tool_call(tracer, attributes={"user.full_name": "Alice Liddell"})
    mapped = _export_and_map_spans(capture, memory.get_finished_spans())

    assert mapped.rejected == []
    [event] = mapped.events
    context = span.get_span_context()
    assert event["id"] == f"otlp:{context.trace_id:032x}:{context.span_id:016x}"
    assert datetime.fromisoformat(event["time"]).timestamp() == span.start_time // 1000 / 1e6
    assert event["type"] == "mcp.request"
    assert event["method"] == "tools/call"
    assert event["tool"] == "get-weather"
    assert event["session_id"] == "191c4850af6c49e08843a3f6c80e5046"
    assert event["protocol_version"] == "2025-11-25"
    assert event["actor"] == {"id": "u-123", "email": "alice@example.com", "name": "Alice Liddell"}
    assert event["server"] == {"name": "weather-mcp", "version": "1.4.2"}
    assert "client" not in event
    assert event["outcome"] == "success"
    assert event["duration_ms"] == round((span.end_time - span.start_time) / 1e6, 3)


def test_unmapped_span_and_resource_attributes_are_kept_in_attributes(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_tool_call(tracer, attributes={"acme.tenant": "blue", "retries": 2})
    [event] = _export_and_map_spans(capture, memory.get_finished_spans()).events

    attributes = event["attributes"]
    assert attributes["acme.tenant"] == "blue"
    assert attributes["retries"] == 2
    assert attributes["jsonrpc.request.id"] == "7"
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["otel"]["resource"]["deployment.environment.name"] == "prod"
    assert attributes["otel"]["kind"] == "server"
    assert attributes["otel"]["scope"] == {"name": "mcp.instrumentation.test", "version": "1.0.0"}
    # What was mapped to a canonical field is not repeated in attributes.
    assert "mcp.method.name" not in attributes and "gen_ai.tool.name" not in attributes
    assert "service.name" not in attributes["otel"]["resource"]


def test_a_client_span_names_the_client_from_its_resource_and_the_server_from_its_address(capture):
    tracer, memory = make_tracer(CLIENT_RESOURCE)
    record_tool_call(
        tracer,
        kind=SpanKind.CLIENT,
        attributes={
            "server.address": "mcp.example.com",
            "server.port": 443,
            "url.full": "https://mcp.example.com/mcp",
        },
    )
    [event] = _export_and_map_spans(capture, memory.get_finished_spans()).events

    assert event["client"] == {"name": "claude-desktop", "version": "0.9.1"}
    assert event["server"] == {"name": "mcp.example.com", "url": "https://mcp.example.com/mcp"}
    assert event["attributes"]["server.port"] == 443
    assert event["attributes"]["otel"]["kind"] == "client"


def test_a_url_that_is_not_http_stays_in_attributes_instead_of_costing_the_event(capture):
    tracer, memory = make_tracer(CLIENT_RESOURCE)
    record_tool_call(tracer, kind=SpanKind.CLIENT, attributes={"url.full": "stdio:///usr/bin/mcp"})
    [event] = _export_and_map_spans(capture, memory.get_finished_spans()).events

    assert "url" not in event.get("server", {})
    assert event["attributes"]["url.full"] == "stdio:///usr/bin/mcp"


def test_explicit_client_and_server_attributes_win_over_the_resource(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_tool_call(
        tracer,
        attributes={
            "mcp.client.id": "https://app.example.com/oauth/client.json",
            "mcp.client.name": "Acme Agent",
            "mcp.client.version": "3.1",
            "mcp.server.name": "io.github.acme/weather",
        },
    )
    [event] = _export_and_map_spans(capture, memory.get_finished_spans()).events

    assert event["client"] == {
        "id": "https://app.example.com/oauth/client.json",
        "name": "Acme Agent",
        "version": "3.1",
    }
    assert event["server"]["name"] == "io.github.acme/weather"


def test_an_error_status_span_maps_to_an_error_outcome_with_code_and_message(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_tool_call(
        tracer,
        error="Invalid params: city is required",
        attributes={"error.type": "-32602", "rpc.response.status_code": "-32602"},
    )
    [event] = _export_and_map_spans(capture, memory.get_finished_spans()).events

    assert event["outcome"] == "error"
    assert event["error"] == {"code": -32602, "message": "Invalid params: city is required"}


def test_error_type_alone_marks_the_span_failed_even_with_status_unset(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_tool_call(tracer, attributes={"error.type": "tool_error"})
    [event] = _export_and_map_spans(capture, memory.get_finished_spans()).events

    assert event["outcome"] == "error"
    assert event["error"]["code"] == "tool_error"


def test_a_forbidden_call_maps_to_a_denied_outcome(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_tool_call(
        tracer,
        error="insufficient scope",
        attributes={"error.type": "403", "http.response.status_code": 403},
    )
    [event] = _export_and_map_spans(capture, memory.get_finished_spans()).events

    assert event["outcome"] == "denied"
    assert event["attributes"]["http.response.status_code"] == 403


def test_an_exception_event_gives_the_error_message_when_the_status_has_none(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    with tracer.start_as_current_span(
        "tools/call", kind=SpanKind.SERVER, attributes={"mcp.method.name": "tools/call"}
    ) as span:
        span.record_exception(TimeoutError("upstream weather API timed out"))
        span.set_attribute("error.type", "timeout")
    [event] = _export_and_map_spans(capture, memory.get_finished_spans()).events

    assert event["error"] == {"code": "timeout", "message": "upstream weather API timed out"}


def test_notifications_become_mcp_notification_events(capture):
    tracer, memory = make_tracer(CLIENT_RESOURCE)
    with tracer.start_as_current_span(
        "notifications/cancelled",
        kind=SpanKind.CLIENT,
        attributes={"mcp.method.name": "notifications/cancelled"},
    ):
        pass
    [event] = _export_and_map_spans(capture, memory.get_finished_spans()).events

    assert event["type"] == "mcp.notification"
    assert event["method"] == "notifications/cancelled"


def test_a_well_known_method_in_the_span_name_stands_in_for_a_missing_method_attribute(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    with tracer.start_as_current_span(
        "resources/read", attributes={"mcp.resource.uri": "file:///srv/report.pdf"}
    ):
        pass
    [event] = _export_and_map_spans(capture, memory.get_finished_spans()).events

    assert event["method"] == "resources/read"
    assert event["attributes"]["mcp.resource.uri"] == "file:///srv/report.pdf"


def test_task_attributes_map_to_the_task_object(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_tool_call(
        tracer,
        name="tasks/get",
        attributes={
            "mcp.method.name": "tasks/get",
            "mcp.task.id": "t-7f3c",
            "mcp.task.status": "working",
            "mcp.task.ttl": 3600000,
            "mcp.task.poll_interval": 5000,
            "mcp.task.status_message": "Waiting for approval",
        },
    )
    [event] = _export_and_map_spans(capture, memory.get_finished_spans()).events

    assert event["task"] == {
        "id": "t-7f3c",
        "status": "working",
        "ttl": 3600000,
        "poll_interval": 5000,
        "status_message": "Waiting for approval",
    }


def test_spans_that_are_not_mcp_are_rejected_and_the_mcp_ones_beside_them_kept(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    with tracer.start_as_current_span("GET /healthz", attributes={"http.route": "/healthz"}):
        pass
    record_tool_call(tracer)
    mapped = _export_and_map_spans(capture, memory.get_finished_spans())

    assert [event["method"] for event in mapped.events] == ["tools/call"]
    [message] = mapped.rejected
    assert "no mcp.method.name" in message


def test_the_same_spans_exported_twice_map_to_the_same_event_ids(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_tool_call(tracer)
    record_tool_call(tracer, attributes={"gen_ai.tool.name": "get-forecast"})
    spans = memory.get_finished_spans()
    first = _export_and_map_spans(capture, spans)
    second = _export_and_map_spans(capture, spans)

    ids = [event["id"] for event in first.events]
    assert len(set(ids)) == 2
    assert [event["id"] for event in second.events] == ids


def test_an_uncompressed_protobuf_export_maps_the_same_as_a_gzip_one(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_tool_call(tracer)
    spans = memory.get_finished_spans()
    gzipped = _export_and_map_spans(capture, spans)
    plain = _export_and_map_spans(capture, spans, gzip=False)

    assert "content-encoding" not in capture.last().headers
    assert plain.events == gzipped.events


# --- logs -------------------------------------------------------------------------------------


def _export_and_map_logs(capture, records):
    export_logs(records, capture.base_url + "/v1/logs")
    return decode_captured(capture.last(), otlp.LOGS)


def test_an_audit_log_record_maps_to_an_event_with_its_outcome_and_message(capture):
    logger, memory = make_logger(SERVER_RESOURCE)
    logger.emit(
        body="tool call denied by policy",
        severity_number=SeverityNumber.WARN,
        timestamp=1_764_496_800_123_456_789,
        attributes={
            "mcp.method.name": "tools/call",
            "gen_ai.tool.name": "delete-repo",
            "mcp.session.id": "s-1",
            "enduser.id": "bob",
            "outcome": "denied",
            "rpc.response.status_code": "-32001",
        },
    )
    mapped = _export_and_map_logs(capture, memory.get_finished_logs())

    assert mapped.rejected == []
    [event] = mapped.events
    assert event["time"] == "2025-11-30T10:00:00.123456Z"
    assert event["type"] == "mcp.request"
    assert event["tool"] == "delete-repo"
    assert event["actor"] == {"id": "bob"}
    assert event["outcome"] == "denied"
    assert event["error"] == {"code": -32001, "message": "tool call denied by policy"}
    assert event["server"] == {"name": "weather-mcp", "version": "1.4.2"}
    assert event["attributes"]["otel"]["body"] == "tool call denied by policy"
    assert event["id"].startswith("otlp-log:")


def test_a_log_event_name_in_a_canonical_family_becomes_the_event_type(capture):
    logger, memory = make_logger(SERVER_RESOURCE)
    logger.emit(
        event_name="task.status_changed",
        body={"previous": "working"},
        attributes={"mcp.task.id": "t-1", "mcp.task.status": "completed"},
    )
    [event] = _export_and_map_logs(capture, memory.get_finished_logs()).events

    assert event["type"] == "task.status_changed"
    assert event["task"] == {"id": "t-1", "status": "completed"}
    assert event["attributes"]["otel"]["body"] == {"previous": "working"}


def test_a_log_record_without_a_timestamp_uses_the_time_it_was_observed(capture):
    logger, memory = make_logger(SERVER_RESOURCE)
    logger.emit(body="ping", attributes={"mcp.method.name": "ping"})
    [record] = memory.get_finished_logs()
    assert record.log_record.timestamp is None
    [event] = _export_and_map_logs(capture, [record]).events

    observed = record.log_record.observed_timestamp
    assert datetime.fromisoformat(event["time"]).timestamp() == observed // 1000 / 1e6


def test_an_error_severity_log_is_an_error_outcome(capture):
    logger, memory = make_logger(SERVER_RESOURCE)
    logger.emit(
        body="backend unreachable",
        severity_number=SeverityNumber.ERROR,
        attributes={"mcp.method.name": "tools/call", "error.type": "timeout"},
    )
    [event] = _export_and_map_logs(capture, memory.get_finished_logs()).events

    assert event["outcome"] == "error"
    assert event["error"] == {"code": "timeout", "message": "backend unreachable"}


def test_log_records_keep_their_ids_across_a_retried_export_and_differ_from_each_other(capture):
    logger, memory = make_logger(SERVER_RESOURCE)
    for tool in ("a", "b"):
        logger.emit(
            body="call",
            timestamp=1_764_496_800_000_000_000,
            attributes={"mcp.method.name": "tools/call", "gen_ai.tool.name": tool},
        )
    records = memory.get_finished_logs()
    first = [event["id"] for event in _export_and_map_logs(capture, records).events]
    second = [event["id"] for event in _export_and_map_logs(capture, records).events]

    assert first == second
    assert first[0] != first[1]


def test_a_log_record_uid_is_used_as_the_event_id(capture):
    logger, memory = make_logger(SERVER_RESOURCE)
    logger.emit(
        body="call",
        attributes={
            "mcp.method.name": "tools/call",
            "log.record.uid": "01JDQ8ZK9S7W4Y3T0X2V6N5M1P",
        },
    )
    [event] = _export_and_map_logs(capture, memory.get_finished_logs()).events

    assert event["id"] == "otlp-log:01JDQ8ZK9S7W4Y3T0X2V6N5M1P"


def test_log_records_that_are_not_mcp_are_rejected_with_a_message(capture):
    logger, memory = make_logger(SERVER_RESOURCE)
    logger.emit(body="GC pause 12ms", severity_number=SeverityNumber.INFO)
    logger.emit(body="call", attributes={"mcp.method.name": "tools/list"})
    mapped = _export_and_map_logs(capture, memory.get_finished_logs())

    assert [event["method"] for event in mapped.events] == ["tools/list"]
    [message] = mapped.rejected
    assert message.startswith("log record 0 of scope 'mcp.gateway.audit'")
