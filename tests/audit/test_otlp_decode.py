"""Decoding OTLP/HTTP bodies: the OTLP JSON mapping, and hostile input of every kind."""

import base64
import gzip
import io
import tracemalloc
import zlib

import orjson
import pytest
from django.conf import settings
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from audit import http_body, otlp
from audit.otlp_mapping import map_logs, map_traces
from audit.otlp_values import MAX_VALUE_CHARS

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"


def _json_span(**overrides):
    """A span as the OTLP JSON mapping writes it: hex ids, int64 as strings, enums as ints."""
    span = {
        "traceId": TRACE_ID,
        "spanId": SPAN_ID,
        "parentSpanId": "eee19b7ec3c1b173",
        "name": "tools/call get-weather",
        "kind": 2,
        "startTimeUnixNano": "1764496800000000000",
        "endTimeUnixNano": "1764496800250000000",
        "attributes": [
            {"key": "mcp.method.name", "value": {"stringValue": "tools/call"}},
            {"key": "gen_ai.tool.name", "value": {"stringValue": "get-weather"}},
            {"key": "jsonrpc.request.id", "value": {"stringValue": "42"}},
            {"key": "server.port", "value": {"intValue": "8443"}},
            {"key": "sampled", "value": {"boolValue": True}},
            {"key": "score", "value": {"doubleValue": 0.5}},
            {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}},
            {"key": "blob", "value": {"bytesValue": "AAEC"}},
        ],
        "status": {"code": 2, "message": "Invalid params"},
    }
    span.update(overrides)
    return span


def _json_traces(*spans, resource_attrs=None):
    resource_attrs = resource_attrs or [
        {"key": "service.name", "value": {"stringValue": "weather-mcp"}}
    ]
    return orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": resource_attrs},
                    "scopeSpans": [
                        {"scope": {"name": "mcp-sdk", "version": "1.2"}, "spans": list(spans)}
                    ],
                }
            ]
        }
    )


def _decode_map_traces(body: bytes, media=otlp.JSON):
    return map_traces(otlp.decode(otlp.TRACES, body, media))


def test_a_json_trace_export_maps_like_a_protobuf_one():
    [event] = _decode_map_traces(_json_traces(_json_span())).events

    assert event["id"] == f"otlp:{TRACE_ID}:{SPAN_ID}"
    assert event["time"] == "2025-11-30T10:00:00Z"
    assert event["duration_ms"] == 250.0
    assert event["method"] == "tools/call" and event["tool"] == "get-weather"
    assert event["server"] == {"name": "weather-mcp"}
    assert event["outcome"] == "error"
    assert event["error"] == {"message": "Invalid params"}
    attributes = event["attributes"]
    assert attributes["server.port"] == 8443
    assert attributes["sampled"] is True and attributes["score"] == 0.5
    assert attributes["tags"] == ["a"] and attributes["blob"] == "AAEC"
    assert attributes["otel"]["parent_span_id"] == "eee19b7ec3c1b173"
    assert attributes["otel"]["kind"] == "server"


def test_json_and_protobuf_encodings_of_one_span_give_the_same_event():
    as_json = _decode_map_traces(_json_traces(_json_span())).events
    message = otlp.decode(otlp.TRACES, _json_traces(_json_span()), otlp.JSON)
    as_protobuf = _decode_map_traces(message.SerializeToString(), otlp.PROTOBUF).events

    assert as_json == as_protobuf


def test_the_json_decoder_builds_exactly_what_protobufs_json_format_builds():
    """Our descriptor-driven decoder against the reference parser, on every field type."""
    from google.protobuf import json_format

    span = _json_span(
        events=[
            {"timeUnixNano": 5, "name": "exception", "attributes": [], "droppedAttributesCount": 1}
        ],
        links=[{"traceId": TRACE_ID, "spanId": SPAN_ID, "flags": 256}],
        traceState="k=v",
        flags=1,
        kind="SPAN_KIND_CLIENT",
        droppedAttributesCount=3,
    )
    span["attributes"].append(
        {
            "key": "nested",
            "value": {
                "kvlistValue": {
                    "values": [
                        {
                            "key": "inner",
                            "value": {
                                "arrayValue": {"values": [{"doubleValue": "NaN"}, {"intValue": -5}]}
                            },
                        }
                    ]
                }
            },
        }
    )
    body = _json_traces(span)
    reference = orjson.loads(body)
    for item in [
        reference["resourceSpans"][0]["scopeSpans"][0]["spans"][0],
        reference["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["links"][0],
    ]:
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in item:
                item[key] = base64.b64encode(bytes.fromhex(item[key])).decode()
    expected = json_format.ParseDict(reference, trace_service_pb2.ExportTraceServiceRequest())

    assert otlp.decode(otlp.TRACES, body, otlp.JSON) == expected


def test_json_accepts_numbers_for_int64_fields_and_ignores_unknown_fields():
    span = _json_span(startTimeUnixNano=1764496800000000000, futureField={"x": 1})
    [event] = _decode_map_traces(_json_traces(span)).events

    assert event["time"] == "2025-11-30T10:00:00Z"


def test_a_json_log_export_maps_hex_ids_and_string_timestamps():
    body = orjson.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "gw"}}]
                    },
                    "scopeLogs": [
                        {
                            "scope": {"name": "audit"},
                            "logRecords": [
                                {
                                    "timeUnixNano": "1764496800500000000",
                                    "severityNumber": 9,
                                    "severityText": "INFO",
                                    "traceId": TRACE_ID,
                                    "spanId": SPAN_ID,
                                    "body": {"stringValue": "tools/list answered"},
                                    "attributes": [
                                        {
                                            "key": "mcp.method.name",
                                            "value": {"stringValue": "tools/list"},
                                        },
                                        {"key": "user.id", "value": {"stringValue": "u-9"}},
                                    ],
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )
    [event] = map_logs(otlp.decode(otlp.LOGS, body, otlp.JSON)).events

    assert event["time"] == "2025-11-30T10:00:00.500000Z"
    assert event["method"] == "tools/list" and event["actor"] == {"id": "u-9"}
    assert event["attributes"]["otel"]["trace_id"] == TRACE_ID
    assert event["attributes"]["otel"]["span_id"] == SPAN_ID
    assert event["attributes"]["otel"]["severity_text"] == "INFO"


def test_a_span_with_malformed_hex_ids_is_rejected_and_its_neighbours_kept():
    good = _json_span()
    bad = _json_span(traceId="not-hex-at-all", spanId="zz")
    mapped = _decode_map_traces(_json_traces(bad, good))

    assert [event["id"] for event in mapped.events] == [f"otlp:{TRACE_ID}:{SPAN_ID}"]
    [message] = mapped.rejected
    assert "trace_id" in message


def test_items_without_timestamps_are_rejected_with_a_message_naming_the_field():
    mapped = _decode_map_traces(_json_traces(_json_span(startTimeUnixNano="0")))
    assert mapped.events == []
    assert "start_time_unix_nano is missing" in mapped.rejected[0]

    request = logs_service_pb2.ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.attributes.add(key="mcp.method.name").value.string_value = "ping"
    mapped = map_logs(request)
    assert mapped.events == []
    assert "time_unix_nano and observed_time_unix_nano are both missing" in mapped.rejected[0]


def test_a_huge_free_form_attribute_is_cut_and_marked_truncated():
    huge = "x" * 1_000_000
    span = _json_span()
    span["attributes"].append({"key": "gen_ai.tool.call.arguments", "value": {"stringValue": huge}})
    [event] = _decode_map_traces(_json_traces(span)).events

    kept = event["attributes"]["gen_ai.tool.call.arguments"]
    assert len(kept) < MAX_VALUE_CHARS + 20 and kept.startswith("xxx")
    assert event["attributes"]["otel"]["truncated"] is True


def test_a_huge_identifier_rejects_its_item_naming_the_attribute():
    span = _json_span()
    span["attributes"].append({"key": "mcp.session.id", "value": {"stringValue": "s" * 100_000}})
    mapped = _decode_map_traces(_json_traces(span))

    assert mapped.events == []
    assert "mcp.session.id: longer than 300 characters" in mapped.rejected[0]


def test_an_identifier_of_the_wrong_type_rejects_its_item_naming_the_attribute():
    span = _json_span()
    span["attributes"][0] = {
        "key": "mcp.method.name",
        "value": {"arrayValue": {"values": [{"stringValue": "tools/call"}]}},
    }
    mapped = _decode_map_traces(_json_traces(span))

    assert "mcp.method.name: expected a string" in mapped.rejected[0]


def test_thousands_of_attributes_are_capped():
    span = _json_span()
    span["attributes"] += [{"key": f"k{i}", "value": {"intValue": str(i)}} for i in range(5000)]
    [event] = _decode_map_traces(_json_traces(span)).events

    assert len(event["attributes"]) < 200
    assert event["attributes"]["otel"]["truncated"] is True


# --- refused as a whole -----------------------------------------------------------------------


def _status(exc_info) -> int:
    return exc_info.value.status


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/grpc", "application/x-www-form-urlencoded"]
)
def test_a_content_type_other_than_protobuf_or_json_is_refused_with_415(content_type):
    with pytest.raises(http_body.BodyError) as exc_info:
        otlp.media_type(content_type)
    assert _status(exc_info) == 415


def test_content_type_parameters_and_case_are_tolerated():
    assert otlp.media_type("Application/JSON; charset=utf-8") == otlp.JSON


@pytest.mark.parametrize(
    "body", [b"\xff\xff\xff\xff garbage", b"\x0a\xff\xff\xff\xff\x0f", b"\x12\x05abc"]
)
def test_garbage_protobuf_is_refused_with_400(body):
    with pytest.raises(http_body.BodyError) as exc_info:
        otlp.decode(otlp.TRACES, body, otlp.PROTOBUF)
    assert _status(exc_info) == 400


def test_protobuf_with_a_non_utf8_string_is_refused_with_400():
    request = trace_service_pb2.ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add().name = "AAAA"
    body = request.SerializeToString().replace(b"AAAA", b"\xff\xfe\xfd\xfc")
    with pytest.raises(http_body.BodyError) as exc_info:
        otlp.decode(otlp.TRACES, body, otlp.PROTOBUF)
    assert _status(exc_info) == 400


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceSpans": [}',
        b'"just a string"',
        b"[]",
        b"",
        '{"resourceSpans": [{"x": "\udcff"}]}'.encode("utf-8", "surrogatepass"),
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "caf\xe9"}]}]}]}',
        b'{"resourceSpans": "not a list"}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": 1.5}]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": '
        b'[{"endTimeUnixNano": "99999999999999999999999"}]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5}]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": {"k": "v"}}]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"status": {"code": true}}]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "k", "value": '
        b'{"boolValue": "yes"}}]}]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "k", "value": '
        b'{"bytesValue": "!!not base64"}}]}]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "k", "value": '
        b'{"doubleValue": "lots"}}]}]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": ["not an object"]}]}',
    ],
)
def test_malformed_or_non_utf8_json_is_refused_with_400(body):
    with pytest.raises(http_body.BodyError) as exc_info:
        otlp.decode(otlp.TRACES, body, otlp.JSON)
    assert _status(exc_info) == 400


def test_absurdly_deep_json_nesting_is_refused_with_400():
    value = {"stringValue": "x"}
    for _ in range(60):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    span = _json_span(attributes=[{"key": "deep", "value": value}])
    with pytest.raises(http_body.BodyError) as exc_info:
        otlp.decode(otlp.TRACES, _json_traces(span), otlp.JSON)
    assert _status(exc_info) == 400


def test_an_empty_protobuf_body_is_an_empty_export():
    assert _decode_map_traces(b"", otlp.PROTOBUF).events == []


# --- bodies and compression -------------------------------------------------------------------


def test_a_gzip_bomb_is_refused_with_413_without_inflating_it():
    # 64 gzip members of 16 MiB of zeros each: ~1 GiB inflated from ~1 MiB on the wire.
    member = gzip.compress(b"\0" * (16 * 1024 * 1024), compresslevel=9)
    bomb = member * 64
    assert len(bomb) < 2 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(http_body.BodyError) as exc_info:
            http_body.decompress(bomb, "gzip", limit=settings.OTLP_MAX_DECODED_BYTES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert _status(exc_info) == 413
    assert peak < 2 * settings.OTLP_MAX_DECODED_BYTES  # never the whole GiB


def test_gzip_just_under_the_limit_inflates_and_just_over_is_refused():
    data = b"a" * 10_000
    assert http_body.decompress(gzip.compress(data), "gzip", limit=10_000) == data
    with pytest.raises(http_body.BodyError) as exc_info:
        http_body.decompress(gzip.compress(data), "gzip", limit=9_999)
    assert _status(exc_info) == 413


def test_an_uncompressed_body_over_the_decoded_limit_is_refused_with_413():
    assert http_body.decompress(b"x" * 100, "identity", limit=100) == b"x" * 100
    with pytest.raises(http_body.BodyError) as exc_info:
        http_body.decompress(b"x" * 101, None, limit=100)
    assert _status(exc_info) == 413


def test_concatenated_gzip_members_are_all_inflated():
    assert (
        http_body.decompress(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", limit=100)
        == b"abcd"
    )


def test_deflate_is_accepted():
    assert http_body.decompress(zlib.compress(b"payload"), "deflate", limit=100) == b"payload"


# gzip stamps the time into its header: the ids must not show the bytes (parallel test
# processes must collect the same tests).
@pytest.mark.parametrize(
    "body",
    [b"not gzip at all", gzip.compress(b"x" * 5000)[:-30]],
    ids=["not-gzip", "truncated"],
)
def test_corrupt_or_truncated_gzip_is_refused_with_400(body):
    with pytest.raises(http_body.BodyError) as exc_info:
        http_body.decompress(body, "gzip", limit=1_000_000)
    assert _status(exc_info) == 400


def test_an_unknown_content_encoding_is_refused_with_415():
    with pytest.raises(http_body.BodyError) as exc_info:
        http_body.decompress(b"...", "br", limit=100)
    assert _status(exc_info) == 415


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    stream = io.BytesIO(b"x" * 10)
    with pytest.raises(http_body.BodyError) as exc_info:
        http_body.read_body(stream, content_length=10_000_000, limit=1000)
    assert _status(exc_info) == 413
    assert stream.tell() == 0


def test_a_body_longer_than_the_limit_is_refused_while_reading_in_chunks():
    with pytest.raises(http_body.BodyError) as exc_info:
        http_body.read_body(io.BytesIO(b"x" * 200_000), content_length=None, limit=100_000)
    assert _status(exc_info) == 413


# --- replies ----------------------------------------------------------------------------------


def test_partial_success_is_encoded_in_protobuf_and_in_otlp_json():
    body = otlp.encode_response(otlp.TRACES, otlp.PROTOBUF, rejected=2, error_message="bad")
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(body)
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == "bad"

    body = otlp.encode_response(otlp.LOGS, otlp.JSON, rejected=3, error_message="worse")
    assert orjson.loads(body) == {
        "partialSuccess": {"rejectedLogRecords": "3", "errorMessage": "worse"}
    }


def test_a_full_success_reply_has_no_partial_success():
    assert otlp.encode_response(otlp.TRACES, otlp.PROTOBUF, rejected=0, error_message="") == b""
    assert otlp.encode_response(otlp.TRACES, otlp.JSON, rejected=0, error_message="") == b"{}"


def test_error_bodies_are_google_rpc_status_messages():
    from google.rpc import status_pb2  # test-only: the exporter's dependency

    body = otlp.encode_status(otlp.PROTOBUF, code=3, message="Body is not valid ✓")
    status = status_pb2.Status.FromString(body)
    assert (status.code, status.message) == (3, "Body is not valid ✓")
    assert orjson.loads(otlp.encode_status(otlp.JSON, code=16, message="no")) == {
        "code": 16,
        "message": "no",
    }
