"""Attribute aliases, task-execution items, and peer matching, on real SDK exports (unit level:
the mapping without the database; the live-server paths are in test_otlp_sdk_traffic.py)."""

import pytest
from opentelemetry._logs import SeverityNumber

from audit import otlp
from audit.otlp_attributes import MappingError, validate_mapping
from audit.otlp_mapping import map_traces
from audit.otlp_peers import peer_from_span, peer_from_url
from tests.otlp_support import (
    SDK_CLIENT_RESOURCE,
    SERVER_RESOURCE,
    decode_captured,
    export_logs,
    export_spans,
    make_logger,
    make_tracer,
    record_sdk_client_call,
    record_sdk_server_call,
)


def _map(capture, tracer_memory, **kwargs):
    export_spans(tracer_memory.get_finished_spans(), capture.base_url + "/v1/traces")
    sent = capture.last()
    if not kwargs:
        return decode_captured(sent, otlp.TRACES)
    from audit import http_body

    body = http_body.decompress(sent.body, "gzip", limit=1 << 24)
    return map_traces(otlp.decode(otlp.TRACES, body, otlp.PROTOBUF), **kwargs)


def test_the_primary_client_id_wins_over_an_alias_and_the_alias_stays_in_attributes(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_sdk_server_call(
        tracer, 1, attributes={"mcp.client.id": "primary", "oauth.client_id": "alias"}
    )
    [event] = _map(capture, memory).events
    assert event["client"] == {"id": "primary"}
    assert event["attributes"]["oauth.client_id"] == "alias"


def test_a_wrong_typed_alias_is_refused_under_the_name_that_was_sent(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_sdk_server_call(tracer, 1, attributes={"oauth.client_id": ["a", "b"]})
    mapped = _map(capture, memory)
    assert mapped.events == []
    assert "oauth.client_id: expected a string, got list" in mapped.rejected[0]


def test_a_source_mapping_is_read_after_the_built_in_names(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_sdk_server_call(tracer, 1, attributes={"gw.app": "from-mapping"})
    record_sdk_server_call(
        tracer, 2, attributes={"gw.app": "from-mapping", "client_id": "built-in"}
    )
    first, second = _map(capture, memory, mapping={"client.id": ["gw.app"]}).events
    assert first["client"]["id"] == "from-mapping" and "gw.app" not in first["attributes"]
    assert second["client"]["id"] == "built-in"


def test_a_client_id_without_a_user_is_a_service_actor_and_with_a_user_is_not(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_sdk_server_call(tracer, 1, attributes={"client_id": "svc", "mcp.client.name": "Sync"})
    record_sdk_server_call(tracer, 2, attributes={"client_id": "svc", "enduser.id": "u-1"})
    machine, human = _map(capture, memory).events
    assert machine["actor"] == {"id": "svc", "type": "service", "name": "Sync"}
    assert human["actor"] == {"id": "u-1"}


def test_a_client_id_too_long_for_an_identity_is_no_actor_and_the_span_is_still_mapped(capture):
    long_id = "https://agents.example/" + "c" * 400  # OTLP takes 500; an identity's subject 300
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_sdk_server_call(tracer, 1, attributes={"client_id": long_id})
    [event] = _map(capture, memory).events
    assert event["client"]["id"] == long_id and "actor" not in event


def test_the_sdk_client_span_name_gives_the_method_when_the_attribute_is_missing(capture):
    tracer, memory = make_tracer(SDK_CLIENT_RESOURCE)
    record_sdk_client_call(tracer, 1, attributes={"mcp.method.name": ""})
    [event] = _map(capture, memory).events
    assert (event["type"], event["method"]) == ("mcp.request", "tools/call")


def test_a_log_record_about_a_task_without_a_method_is_a_task_event(capture):
    logger, memory = make_logger(SERVER_RESOURCE)
    logger.emit(
        body="task finished",
        severity_number=SeverityNumber.INFO,
        attributes={"mcp.task.id": "t-1", "mcp.task.status": "completed"},
    )
    logger.emit(body="cache warmed", attributes={"cache.hits": 3})
    export_logs(memory.get_finished_logs(), capture.base_url + "/v1/logs")
    mapped = decode_captured(capture.last(), otlp.LOGS)
    [event] = mapped.events
    assert (event["type"], event["task"]) == ("task.status", {"id": "t-1", "status": "completed"})
    assert len(mapped.rejected) == 1 and "not an MCP item" in mapped.rejected[0]


def test_an_mcp_attribute_alone_makes_an_mcp_activity_event(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    with tracer.start_as_current_span(
        "resource fetch", attributes={"mcp.resource.uri": "file:///tmp/a.txt"}
    ):
        pass
    [event] = _map(capture, memory).events
    assert event["type"] == "mcp.activity"
    assert event["attributes"]["mcp.resource.uri"] == "file:///tmp/a.txt"


def test_client_spans_in_an_export_join_the_server_it_describes_without_the_database(capture):
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_sdk_server_call(tracer, 1, attributes={"mcp.server.url": "https://Mcp.Example.com/mcp"})
    client_tracer, client_memory = make_tracer(SDK_CLIENT_RESOURCE)
    record_sdk_client_call(
        client_tracer,
        1,
        attributes={"server.address": "mcp.example.com", "server.port": 443, "url.path": "/mcp/"},
    )
    record_sdk_client_call(
        client_tracer, 2, attributes={"server.address": "mcp.example.com", "server.port": 8443}
    )
    export_spans(
        [*memory.get_finished_spans(), *client_memory.get_finished_spans()],
        capture.base_url + "/v1/traces",
    )
    _, joined, other_port = decode_captured(capture.last(), otlp.TRACES).events
    assert joined["server"]["name"] == "weather-mcp"
    assert other_port["server"]["name"] == "mcp.example.com"  # nothing better is known


def test_peers_match_on_what_is_known_ignoring_case_default_ports_and_trailing_slashes():
    remote = peer_from_url("HTTPS://MCP.example.com/mcp/")
    assert remote == peer_from_url("https://mcp.example.com:443/mcp")
    assert peer_from_span(None, {"server.port": 443}, "MCP.EXAMPLE.COM").matches(remote)
    assert peer_from_span(None, {"url.path": "/mcp"}, "mcp.example.com").matches(remote)
    assert not peer_from_span(None, {"url.path": "/other"}, "mcp.example.com").matches(remote)
    assert not peer_from_span(None, {"url.scheme": "http"}, "mcp.example.com").matches(remote)
    assert peer_from_span("stdio:weather", {}, "x") is None


def test_validate_mapping_takes_a_single_name_as_a_list_of_one():
    assert validate_mapping({"client.id": "gw.app"}) == {"client.id": ["gw.app"]}


@pytest.mark.parametrize("mapping", [[], "client.id=x", {"tool": ["a"] * 11}, {"tool": [3]}])
def test_validate_mapping_refuses_shapes_that_are_not_a_mapping(mapping):
    with pytest.raises(MappingError):
        validate_mapping(mapping)
