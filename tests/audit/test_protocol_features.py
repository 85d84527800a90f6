"""MCP protocol features recorded from events (issue 15): sessions' revisions, peers' declared
capabilities, extensions and *Info with history, URL-mode elicitations (origin only), sampling
with tools, and the flags they raise; through the real POST /api/v1/events and OTLP."""

from __future__ import annotations

import time
import uuid

import httpx
import orjson
import pytest

from audit.models import AuditEvent
from audit.services.sources import create_source
from governance.access.models import SiteSetting
from inventory.models import (
    ElicitationOriginAllowance,
    Flag,
    ProtocolProfile,
    ProtocolProfileChange,
    ProtocolSession,
    SamplingRequest,
    Server,
    UrlElicitation,
)
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db(transaction=True)

SERVER = "io.github.acme/reports"
CLIENT = "https://agent.example.com/client.json"
CLIENT_CAPS = {
    "roots": {"listChanged": True},
    "sampling": {"context": {}, "tools": {}},
    "elicitation": {"form": {}, "url": {}},
    "extensions": {"io.modelcontextprotocol/ui": {}, "com.acme/audit": {"level": 2}},
}
SERVER_CAPS = {"tools": {"listChanged": True}, "logging": {}, "resources": {"subscribe": True}}


@pytest.fixture
def token(db):
    return create_source(name="gw-protocol")[1]


def post(live_server, token, events):
    response = httpx.post(
        f"{live_server.url}/api/v1/events",
        content=orjson.dumps(events),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def initialize(caps=None, *, client_info=None, server_version="1.4.0", negotiated="2025-11-25"):
    return make_event(
        method="initialize",
        tool=None,
        attributes={
            "params": {
                "protocolVersion": "2026-07-28",
                "capabilities": CLIENT_CAPS if caps is None else caps,
                "clientInfo": client_info
                or {
                    "name": "acme-agent",
                    "version": "3.2.1",
                    "title": "Acme Agent",
                    "websiteUrl": "https://u:p@acme.example/agent?ref=x",
                },
            },
            "result": {
                "protocolVersion": negotiated,
                "capabilities": SERVER_CAPS,
                "serverInfo": {"name": "reports", "version": server_version},
            },
        },
    )


def url_elicitation(url, elicitation_id="e-91a2", **extra):
    return make_event(
        method="elicitation/create",
        tool=None,
        attributes={
            "params": {
                "mode": "url",
                "elicitationId": elicitation_id,
                "url": url,
                "message": "Connect your CRM account",
            },
            "result": {"action": "accept"},
        },
        **extra,
    )


def test_an_initialize_records_the_session_and_both_peers_declarations(live_server, token):
    result = post(live_server, token, [initialize(), make_event()])

    assert result == {"accepted": 2, "duplicates": 0, "rejected": []}
    session = ProtocolSession.objects.get(session_key="sess-1")
    assert (session.offered_version, session.negotiated_version) == ("2026-07-28", "2025-11-25")
    assert session.server.name == SERVER and session.client.client_id == CLIENT
    client = ProtocolProfile.objects.get(role="client", peer_ref=CLIENT)
    assert client.extensions == ["com.acme/audit", "io.modelcontextprotocol/ui"]
    assert client.capabilities["elicitation"] == {"form": {}, "url": {}}
    assert (client.sampling, client.sampling_tools, client.elicitation_url) == (True, True, True)
    assert (client.info_name, client.info_version, client.info_title) == (
        "acme-agent",
        "3.2.1",
        "Acme Agent",
    )
    assert client.info_website == "https://acme.example/agent"  # no credentials, no query
    server = ProtocolProfile.objects.get(role="server", peer_ref=SERVER)
    assert server.server.name == SERVER and server.protocol_version == "2025-11-25"
    assert set(server.capabilities) == {"tools", "logging", "resources"}
    assert server.info_version == "1.4.0"


def test_a_changed_declaration_keeps_a_history_row_and_a_repeat_does_not(live_server, token):
    post(live_server, token, [initialize()])
    post(live_server, token, [initialize()])  # the same declaration again: no new history
    post(live_server, token, [initialize({"roots": {}})])

    client = ProtocolProfile.objects.get(role="client", peer_ref=CLIENT)
    history = list(ProtocolProfileChange.objects.filter(profile=client).order_by("at", "id"))
    assert len(history) == 2
    assert history[0].extensions == ["com.acme/audit", "io.modelcontextprotocol/ui"]
    assert history[1].capabilities == {"roots": {}} and client.capabilities == {"roots": {}}
    assert client.elicitation_url is False
    assert client.first_seen <= client.changed_at <= client.last_seen


def test_the_2026_07_28_shapes_are_read_from_meta_and_server_discover(live_server, token):
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {
            "extensions": {"io.modelcontextprotocol/tasks": {}}
        },
        "io.modelcontextprotocol/clientInfo": {"name": "next-agent", "version": "9"},
    }
    discover = make_event(
        method="server/discover",
        session_id=None,
        protocol_version="2026-07-28",
        attributes={
            "params": {"_meta": meta},
            "result": {
                "capabilities": {"tools": {}, "extensions": {"io.modelcontextprotocol/ui": {}}},
                "serverInfo": {"name": "reports", "version": "2.0.0"},
                "supportedVersions": ["2026-07-28"],
            },
        },
    )
    call = make_event(session_id=None, attributes={"params": {"_meta": meta}})

    assert post(live_server, token, [discover, call])["accepted"] == 2

    client = ProtocolProfile.objects.get(role="client", peer_ref=CLIENT)
    assert client.extensions == ["io.modelcontextprotocol/tasks"]
    assert (client.info_name, client.protocol_version) == ("next-agent", "2026-07-28")
    server = ProtocolProfile.objects.get(role="server", peer_ref=SERVER)
    assert server.extensions == ["io.modelcontextprotocol/ui"] and server.info_version == "2.0.0"
    session = ProtocolSession.objects.get()  # server/discover stands for the session
    assert session.negotiated_version == "2026-07-28"


def test_url_elicitations_keep_only_the_origin_and_merge_request_error_and_completion(
    live_server, token
):
    secret_url = "https://alice:hunter2@mcp.acme.example/connect?token=s3cr3t&elicitationId=e-91a2"
    required = make_event(
        method="tools/call",
        outcome="error",
        error={
            "code": -32042,
            "message": "Authorization required",
            "data": {
                "elicitations": [
                    {
                        "mode": "url",
                        "elicitationId": "e-91a2",
                        "url": secret_url,
                        "message": "Connect",
                    }
                ]
            },
        },
    )
    complete = make_event(
        method="notifications/elicitation/complete",
        tool=None,
        attributes={"params": {"elicitationId": "e-91a2"}},
    )

    assert post(live_server, token, [required, url_elicitation(secret_url), complete]) == {
        "accepted": 3,
        "duplicates": 0,
        "rejected": [],
    }

    row = UrlElicitation.objects.get()
    assert row.origin == "https://mcp.acme.example" and row.elicitation_id == "e-91a2"
    assert row.url_had_credentials and row.url_redacted and row.via_error
    assert row.action == "accept" and row.completed_at and row.requested_at
    assert row.server.name == SERVER and row.client.client_id == CLIENT
    assert row.identity.subject == "00u-alice" and row.session_id == "sess-1"
    stored = orjson.dumps(list(UrlElicitation.objects.values())).decode()
    assert "hunter2" not in stored and "s3cr3t" not in stored and "connect" not in stored


def test_a_url_elicitation_off_the_servers_origin_or_plain_http_is_flagged(live_server, token):
    post(live_server, token, [make_event()])  # the server and its remote https://mcp.acme.example
    server = Server.objects.get(name=SERVER)
    ElicitationOriginAllowance.objects.create(server=server, origin="https://login.acme.example")
    post(
        live_server,
        token,
        [
            initialize({"elicitation": {"form": {}}}),  # no URL mode declared
            url_elicitation("https://mcp.acme.example/connect", "e-1"),
            url_elicitation("https://login.acme.example/x", "e-2"),
            url_elicitation("http://phish.example/login", "e-3"),
        ],
    )

    flags = {(f.kind, f.dedup_key) for f in Flag.objects.filter(object_id=str(server.pk))}
    assert ("protocol.elicitation_not_https", "http://phish.example") in flags
    assert ("protocol.elicitation_foreign_origin", "http://phish.example") in flags
    assert ("protocol.elicitation_undeclared", CLIENT) in flags
    assert not {key for kind, key in flags if kind == "protocol.elicitation_foreign_origin"} - {
        "http://phish.example"
    }  # its own origin and the allowed one are not flagged


def test_sampling_with_tools_is_recorded_and_flagged_against_the_clients_declaration(
    live_server, token
):
    sampling = make_event(
        method="sampling/createMessage",
        tool=None,
        attributes={
            "params": {
                "messages": [],
                "maxTokens": 100,
                "tools": [{"name": "delete_repo", "inputSchema": {}}, {"name": "ls"}],
                "toolChoice": {"mode": "auto"},
            }
        },
    )
    post(live_server, token, [initialize({"sampling": {}}), sampling])

    request = SamplingRequest.objects.get()
    assert request.tool_names == ["delete_repo", "ls"] and request.tool_choice == "auto"
    assert request.server.name == SERVER and request.client.client_id == CLIENT
    kinds = {f.kind: f for f in Flag.objects.filter(kind__startswith="protocol.sampling")}
    assert set(kinds) == {"protocol.sampling_with_tools", "protocol.sampling_undeclared"}
    assert "sampling.tools" in kinds["protocol.sampling_undeclared"].summary


def test_an_old_revision_and_an_unlisted_server_version_are_flagged(live_server, token):
    SiteSetting.objects.create(key="protocol.minimum_revision", value="2025-06-18")
    post(live_server, token, [make_event()])
    server = Server.objects.get(name=SERVER)
    server.versions.create(
        version="1.4.0", first_seen=server.first_seen, last_seen=server.last_seen
    )
    post(live_server, token, [initialize(server_version="1.5.0-rogue", negotiated="2025-03-26")])

    kinds = {(f.kind, f.dedup_key) for f in Flag.objects.filter(object_id=str(server.pk))}
    assert ("protocol.old_revision", "2025-03-26") in kinds
    assert ("protocol.server_version_unlisted", "1.5.0-rogue") in kinds


def test_hostile_declarations_are_stored_safely_and_lose_nothing_beside_them(live_server, token):
    huge = {f"vendor{i}.example/ext-{i}": {"level": i} for i in range(3000)}
    events = [
        initialize("not an object"),
        make_event(
            method="initialize",
            session_id="sess-2",
            attributes={
                "params": {
                    "capabilities": {
                        "extensions": huge,
                        "deep": {"a": {"b": {"c": {"d": 1}}}},
                        **{f"k{i}": {} for i in range(500)},
                    },
                    "clientInfo": {"name": ["x"], "version": 3},
                },
                "result": "not an object",
            },
        ),
        url_elicitation("javascript:alert(1)@evil", "e-js"),
        url_elicitation({"not": "a url"}, "e-obj"),
        url_elicitation("https://[::1]:99999/x", "e-port"),
        make_event(method="elicitation/create", attributes={"params": {"mode": "url"}}),
        make_event(method="sampling/createMessage", attributes={"params": {"tools": "all"}}),
        make_event(error={"code": -32042, "data": {"elicitations": "nope"}}, outcome="error"),
        make_event(attributes={"params": {"_meta": []}, "result": {"inputRequests": 5}}),
        make_event(),
    ]

    assert post(live_server, token, events) == {
        "accepted": len(events),
        "duplicates": 0,
        "rejected": [],
    }
    assert AuditEvent.objects.count() == len(events)
    client = ProtocolProfile.objects.get(role="client", peer_ref=CLIENT)
    assert len(client.extensions) == 50 and client.extensions_dropped == 2950
    assert len(orjson.dumps(client.capabilities)) <= 8192
    assert client.info_name == "" and client.info_version == ""
    first = ProtocolProfileChange.objects.filter(profile=client).order_by("at", "id").first()
    assert first.capabilities == {}  # "not an object" was recorded as invalid, not stored
    origins = set(UrlElicitation.objects.values_list("origin", flat=True))
    assert all("@" not in origin for origin in origins)


def _otlp_span(attributes: dict) -> dict:
    now = time.time_ns()
    return {
        "traceId": uuid.uuid4().hex,
        "spanId": uuid.uuid4().hex[:16],
        "name": attributes["mcp.method.name"],
        "kind": 2,
        "startTimeUnixNano": str(now - 5_000_000),
        "endTimeUnixNano": str(now),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
    }


def test_otlp_spans_carrying_the_json_rpc_payloads_are_recorded_alike(live_server, token):
    common = {"mcp.session.id": "otel-1", "mcp.server.name": SERVER, "mcp.client.id": CLIENT}
    spans = [
        _otlp_span(
            {
                **common,
                "mcp.method.name": "initialize",
                "mcp.protocol.version": "2025-11-25",
                "mcp.request.params": orjson.dumps(
                    {
                        "protocolVersion": "2025-11-25",
                        "capabilities": CLIENT_CAPS,
                        "clientInfo": {"name": "otel-agent", "version": "1"},
                    }
                ).decode(),
                "mcp.response.result": orjson.dumps(
                    {
                        "protocolVersion": "2025-11-25",
                        "capabilities": SERVER_CAPS,
                        "serverInfo": {"name": "reports", "version": "1.4.0"},
                    }
                ).decode(),
            }
        ),
        _otlp_span(
            {
                **common,
                "mcp.method.name": "elicitation/create",
                "mcp.request.params": orjson.dumps(
                    {
                        "mode": "url",
                        "elicitationId": "o-1",
                        "url": "https://idp.example.net/authorize?code=secret",
                    }
                ).decode(),
            }
        ),
        _otlp_span(
            {
                **common,
                "mcp.method.name": "tools/call",
                "rpc.response.status_code": "-32042",
                "error.type": "-32042",
                "mcp.response.error": orjson.dumps(
                    {
                        "code": -32042,
                        "message": "needs auth",
                        "data": {
                            "elicitations": [
                                {
                                    "mode": "url",
                                    "elicitationId": "o-2",
                                    "url": "https://idp.example.net/x",
                                }
                            ]
                        },
                    }
                ).decode(),
            }
        ),
        _otlp_span(
            {
                **common,
                "mcp.method.name": "sampling/createMessage",
                "mcp.request.params": orjson.dumps(
                    {"tools": [{"name": "run_sql"}], "toolChoice": {"mode": "required"}}
                ).decode(),
            }
        ),
    ]
    body = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    response = httpx.post(
        f"{live_server.url}/v1/traces",
        content=orjson.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 200 and "rejected" not in response.text.lower()
    assert ProtocolSession.objects.get(session_key="otel-1").negotiated_version == "2025-11-25"
    assert ProtocolProfile.objects.get(role="client", peer_ref=CLIENT).info_name == "otel-agent"
    elicitations = dict(UrlElicitation.objects.values_list("elicitation_id", "origin"))
    assert elicitations == {"o-1": "https://idp.example.net", "o-2": "https://idp.example.net"}
    assert UrlElicitation.objects.get(elicitation_id="o-2").via_error
    assert SamplingRequest.objects.get().tool_names == ["run_sql"]


def test_hostile_otlp_payload_attributes_are_kept_as_sent_and_lose_nothing(live_server, token):
    common = {"mcp.session.id": "otel-h", "mcp.server.name": SERVER, "mcp.client.id": CLIENT}
    spans = [
        _otlp_span({**common, "mcp.method.name": "initialize", "mcp.request.params": "{not json"}),
        _otlp_span(
            {
                **common,
                "mcp.method.name": "initialize",
                "mcp.request.params": orjson.dumps(
                    {"capabilities": ["sampling"], "clientInfo": "me"}
                ).decode(),
                # over the 4,096-character attribute cap: cut, so no longer JSON
                "mcp.response.result": orjson.dumps(
                    {"capabilities": {"extensions": {f"x.example/e{i}": {} for i in range(400)}}}
                ).decode(),
            }
        ),
        _otlp_span(
            {
                **common,
                "mcp.method.name": "elicitation/create",
                "mcp.request.params": orjson.dumps(
                    {"mode": "url", "elicitationId": "h-1", "url": "https://u:p@[::1"}
                ).decode(),
            }
        ),
    ]
    response = httpx.post(
        f"{live_server.url}/v1/traces",
        content=orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 200 and "rejected" not in response.text.lower()
    assert AuditEvent.objects.count() == 3
    kept = [e.payload["attributes"].get("mcp.request.params") for e in AuditEvent.objects.all()]
    assert "{not json" in kept  # not an object: kept as sent under its own name
    client = ProtocolProfile.objects.get(role="client", peer_ref=CLIENT)
    assert client.capabilities_invalid and client.capabilities == {} and client.info_name == ""
    assert not ProtocolProfile.objects.filter(role="server").exists()  # the cut result
    elicitation = UrlElicitation.objects.get(elicitation_id="h-1")
    assert elicitation.origin == "" and elicitation.url_had_credentials
