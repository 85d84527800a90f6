"""Real MCP SDK traffic through the live server: the OTLP/HTTP exporter sends spans shaped like
the official MCP Python SDK's (server, client and task-execution spans), the console stores them
and derives the inventory: the client, its service identity, the tasks, and one server."""

from datetime import UTC, datetime

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.trace.export import SpanExportResult

from audit.models import AuditEvent
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from inventory.models import Client, Identity, Server, Task
from tests.otlp_support import (
    SDK_CLIENT_RESOURCE,
    SERVER_RESOURCE,
    export_spans,
    make_tracer,
    record_sdk_client_call,
    record_sdk_server_call,
    record_task_execution,
)

pytestmark = pytest.mark.django_db(transaction=True)

REMOTE = "http://127.0.0.1:8931/mcp"


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _gateway_reported_the_server_at(url: str) -> None:
    """The inventory knows weather-mcp at its remote URL (as a gateway's event reports it)."""
    gateway, _ = create_source(name="edge-gateway")
    ingest_events(
        source=gateway,
        events=[
            {
                "id": "gw-1",
                "time": datetime.now(UTC).isoformat(),
                "type": "mcp.request",
                "method": "initialize",
                "server": {"name": "weather-mcp", "url": url},
            }
        ],
    )


def _export(spans, live_server, token) -> SpanExportResult:
    return export_spans(spans, live_server.url + "/v1/traces", headers=_auth(token))


def test_sdk_server_client_and_task_spans_inventory_the_client_its_service_identity_and_one_server(
    live_server,
):
    _gateway_reported_the_server_at(REMOTE)
    source, token = create_source(name="otel-collector")
    server_tracer, server_spans = make_tracer(SERVER_RESOURCE)
    client_tracer, client_spans = make_tracer(SDK_CLIENT_RESOURCE)
    for call in range(300):
        # A machine-to-machine agent: the OAuth client is known, no user is.
        record_sdk_server_call(
            server_tracer,
            call,
            tool_error=call % 43 == 0,
            attributes={"oauth.client_id": "svc-reporting"},
        )
        record_sdk_client_call(
            client_tracer,
            call,
            attributes={"server.address": "127.0.0.1", "server.port": 8931, "url.full": REMOTE},
        )
    for number in range(10):
        # A task-augmented tools/call creates the task; its execution reports how it ended.
        record_sdk_server_call(
            server_tracer,
            1000 + number,
            attributes={
                "oauth.client_id": "svc-reporting",
                "mcp.task.id": f"task-{number}",
                "mcp.task.status": "working",
            },
        )
        record_task_execution(
            server_tracer,
            f"task-{number}",
            status="failed" if number < 3 else "completed",
            attributes={"oauth.client_id": "svc-reporting"},
        )

    assert (
        _export(server_spans.get_finished_spans(), live_server, token) == SpanExportResult.SUCCESS
    )
    assert (
        _export(client_spans.get_finished_spans(), live_server, token) == SpanExportResult.SUCCESS
    )

    stored = AuditEvent.objects.filter(source=source)
    assert stored.count() == 620  # nothing MCP was dropped
    assert stored.filter(method="tools/call", tool="get-weather", outcome="error").count() == 7
    assert stored.exclude(server_name="weather-mcp").count() == 0
    assert list(Server.objects.values_list("name", flat=True)) == ["weather-mcp"]
    client = Client.objects.get(client_id="svc-reporting")
    assert stored.filter(client_ref="svc-reporting").count() == 320
    service = Identity.objects.get(subject="svc-reporting")
    assert service.kind == Identity.Kind.SERVICE
    assert stored.filter(actor_subject="svc-reporting").count() == 320
    assert client.client_id == "svc-reporting"
    tasks = Task.objects.filter(server__name="weather-mcp")
    assert sorted(tasks.values_list("status", flat=True)) == ["completed"] * 7 + ["failed"] * 3
    assert {t.tool_name for t in tasks} == {"get-weather"}
    task_events = stored.filter(task_id__startswith="task-", method="")
    assert task_events.count() == 10
    assert set(task_events.values_list("type", flat=True)) == {"task.status"}
    assert task_events.filter(outcome="error").count() == 3


def test_a_client_span_with_address_port_and_path_joins_the_server_that_has_that_remote(
    live_server,
):
    _gateway_reported_the_server_at(REMOTE)
    source, token = create_source(name="otel-collector")
    tracer, memory = make_tracer(SDK_CLIENT_RESOURCE)
    record_sdk_client_call(
        tracer,
        1,
        attributes={"server.address": "127.0.0.1", "server.port": 8931, "url.path": "/mcp/"},
    )
    record_sdk_client_call(
        tracer, 2, attributes={"server.address": "127.0.0.1", "server.port": 8931}
    )

    assert _export(memory.get_finished_spans(), live_server, token) == SpanExportResult.SUCCESS
    assert set(AuditEvent.objects.filter(source=source).values_list("server_name", flat=True)) == {
        "weather-mcp"
    }
    assert list(Server.objects.values_list("name", flat=True)) == ["weather-mcp"]


def test_a_client_span_joins_a_server_whose_server_spans_carry_its_url_in_the_same_export(
    live_server,
):
    source, token = create_source(name="otel-collector")
    server_tracer, server_spans = make_tracer(SERVER_RESOURCE)
    client_tracer, client_spans = make_tracer(SDK_CLIENT_RESOURCE)
    record_sdk_server_call(server_tracer, 1, attributes={"mcp.server.url": REMOTE})
    record_sdk_client_call(
        client_tracer, 1, attributes={"url.full": REMOTE, "server.address": "127.0.0.1"}
    )

    spans = [*client_spans.get_finished_spans(), *server_spans.get_finished_spans()]
    assert _export(spans, live_server, token) == SpanExportResult.SUCCESS
    assert list(Server.objects.values_list("name", flat=True)) == ["weather-mcp"]


def test_a_client_span_to_a_url_nobody_knows_names_its_server_after_server_address(live_server):
    _gateway_reported_the_server_at(REMOTE)
    source, token = create_source(name="otel-collector")
    tracer, memory = make_tracer(SDK_CLIENT_RESOURCE)
    record_sdk_client_call(
        tracer,
        1,
        attributes={
            "server.address": "10.0.0.9",
            "server.port": 8931,
            "url.full": "http://10.0.0.9:8931/mcp",
        },
    )

    assert _export(memory.get_finished_spans(), live_server, token) == SpanExportResult.SUCCESS
    assert AuditEvent.objects.get(source=source).server_name == "10.0.0.9"


@pytest.mark.parametrize("attribute", ["mcp.client.id", "oauth.client_id", "client_id"])
def test_each_client_id_attribute_gateways_set_inventories_the_client(live_server, attribute):
    source, token = create_source(name="otel-collector")
    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_sdk_server_call(
        tracer, 1, attributes={attribute: "https://app.example.com/cimd.json", "user.id": "u-7"}
    )

    assert _export(memory.get_finished_spans(), live_server, token) == SpanExportResult.SUCCESS
    event = AuditEvent.objects.get(source=source)
    assert (event.client_ref, event.actor_subject) == ("https://app.example.com/cimd.json", "u-7")
    assert Client.objects.get(client_id="https://app.example.com/cimd.json").registration == "cimd"
    # A user was there: no service identity is invented for the client.
    assert not Identity.objects.filter(kind=Identity.Kind.SERVICE).exists()
    assert attribute not in event.payload["attributes"]


def test_a_span_that_says_nothing_about_mcp_is_rejected_and_named(live_server, capture):
    source, token = create_source(name="otel-collector")
    tracer, memory = make_tracer({**SERVER_RESOURCE, "mcp.server.name": "weather-mcp"})
    with tracer.start_as_current_span(
        "SELECT forecasts",
        attributes={"db.system.name": "postgresql", "gen_ai.tool.name": "not-an-mcp-fact"},
    ):
        pass
    record_task_execution(tracer, "task-1")
    export_spans(memory.get_finished_spans(), capture.base_url + "/v1/traces")

    reply = httpx.post(
        live_server.url + "/v1/traces",
        content=capture.last().body,
        headers={
            **_auth(token),
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "gzip",
        },
    )

    partial = trace_service_pb2.ExportTraceServiceResponse.FromString(reply.content).partial_success
    assert partial.rejected_spans == 1
    assert "not an MCP item" in partial.error_message
    assert [e.type for e in AuditEvent.objects.filter(source=source)] == ["task.status"]
