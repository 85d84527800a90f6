"""The official MCP Python SDK's client and server over Streamable HTTP on 127.0.0.1: what they
exchange (initialize with capabilities and an extension, a URL-mode elicitation and its
completion, the -32042 error, sampling with tools answered by a stub model) reaches the console
as a gateway would report it, through the native API and through OTLP, and the inventory shows
it."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from audit.services.sources import create_source
from inventory.models import (
    Flag,
    ProtocolProfile,
    ProtocolSession,
    SamplingRequest,
    Server,
    UrlElicitation,
)
from tests.mcp_sdk_peers import (
    PARTNER,
    native_events,
    otlp_spans,
    recorded_server,
    run_session,
    session_ids,
)

pytestmark = pytest.mark.django_db(transaction=True)
CLIENT = "https://agent.example.com/client.json"
SERVER = "io.github.acme/reports"


def _post(url: str, token: str, body: dict | list) -> httpx.Response:
    return httpx.post(
        url,
        content=orjson.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )


def test_what_the_sdk_peers_exchange_reaches_the_inventory_by_both_apis(live_server):
    native_token = create_source(name="gw-native")[1]
    otlp_token = create_source(name="gw-otlp")[1]
    with recorded_server() as (base_url, log):
        asyncio.run(run_session(base_url))
        first = len(log)
        asyncio.run(run_session(base_url))
    native_session, otlp_session = session_ids(log)

    events = native_events(
        log[:first], session_id=native_session, client_id=CLIENT, server_name=SERVER,
        url=f"{base_url}/mcp",
    )  # fmt: skip
    answer = _post(f"{live_server.url}/api/v1/events", native_token, events)
    spans = otlp_spans(log[first:], session_id=otlp_session, client_id=CLIENT, server_name=SERVER)
    exported = _post(f"{live_server.url}/v1/traces", otlp_token, spans)

    assert answer.status_code == 200 and answer.json()["rejected"] == []
    assert exported.status_code == 200 and "rejected" not in exported.text.lower()
    sessions = {s.session_key: s for s in ProtocolSession.objects.all()}
    assert set(sessions) == {native_session, otlp_session}
    assert all(s.negotiated_version == "2025-11-25" for s in sessions.values())
    client = ProtocolProfile.objects.get(role="client", peer_ref=CLIENT)
    assert client.extensions == ["com.acme/audit"] and client.info_name == "acme-agent"
    assert client.elicitation_url and client.sampling and client.sampling_tools
    server = ProtocolProfile.objects.get(role="server", peer_ref=SERVER)
    assert (server.info_name, server.info_version) == ("reports", "1.4.0")
    assert {"tools", "resources", "prompts"} <= set(server.capabilities)
    elicitations = list(UrlElicitation.objects.order_by("elicitation_id"))
    assert len(elicitations) == 4 and {e.origin for e in elicitations} == {PARTNER}
    assert sum(e.via_error for e in elicitations) == 2  # the -32042 error, once per session
    assert sum(bool(e.completed_at and e.action == "accept") for e in elicitations) == 2
    assert all(e.url_redacted for e in elicitations)
    stored = orjson.dumps(list(UrlElicitation.objects.values())).decode()
    assert "s3cr3t" not in stored and "xyz" not in stored
    sampling = list(SamplingRequest.objects.all())
    assert len(sampling) == 2 and all(s.tool_names == ["run_sql"] for s in sampling)
    assert {s.tool_choice for s in sampling} == {"auto"}
    kinds = set(
        Flag.objects.filter(object_id=str(Server.objects.get(name=SERVER).pk)).values_list(
            "kind", flat=True
        )
    )
    # The partner is not the server's own origin (127.0.0.1) and no Admin allowed it.
    assert {"protocol.elicitation_foreign_origin", "protocol.sampling_with_tools"} <= kinds
    assert "protocol.sampling_undeclared" not in kinds  # the client declared sampling.tools
