"""The official MCP Python SDK (2.x) as test peers: a server over Streamable HTTP on 127.0.0.1
behind a recording gateway (an ASGI wrapper that keeps every JSON-RPC message either way), and
the events a gateway would send the console for what it saw (native API and OTLP shapes)."""

from __future__ import annotations

import itertools
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import mcp_types as types
import orjson
import uvicorn
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import UrlElicitationRequiredError

PARTNER = "https://login.partner.example"
_ids = itertools.count(1)


def reports_server() -> MCPServer:
    """A server that sends a user to a partner by URL elicitation (and then completes it),
    answers -32042 for a tool that needs it first, and samples the client's model with tools."""
    server = MCPServer("reports", version="1.4.0", website_url="https://mcp.acme.example")

    @server.tool()
    async def connect_crm(ctx: Context) -> str:
        elicitation_id = f"e-sdk-{next(_ids)}"
        result = await ctx.elicit_url(
            "Connect your CRM",
            url=f"{PARTNER}/connect?token=s3cr3t&id={elicitation_id}",
            elicitation_id=elicitation_id,
        )
        await ctx.session.send_elicit_complete(elicitation_id)
        return result.action

    @server.tool()
    async def needs_auth() -> str:
        raise UrlElicitationRequiredError(
            [
                types.ElicitRequestURLParams(
                    mode="url",
                    message="Authorize the CRM first",
                    url=f"{PARTNER}/authorize?state=xyz",
                    elicitation_id=f"e-sdk-{next(_ids)}",
                )
            ]
        )

    @server.tool()
    async def summarize(ctx: Context) -> str:
        await ctx.session.create_message(
            [types.SamplingMessage(role="user", content=types.TextContent(type="text", text="?"))],
            max_tokens=50,
            tools=[types.Tool(name="run_sql", input_schema={"type": "object"})],
            tool_choice=types.ToolChoice(mode="auto"),
        )
        return "ok"

    return server


def _recording(app, log: list):
    """The ASGI app, keeping each request body (client → server) and response body (server →
    client: JSON or an SSE stream) in `log` as (direction, bytes)."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def receive_logged():
            message = await receive()
            if message["type"] == "http.request" and message.get("body"):
                log.append(("c2s", message["body"]))
            return message

        async def send_logged(message):
            if message["type"] == "http.response.body" and message.get("body"):
                log.append(("s2c", message["body"]))
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or ())
                if b"mcp-session-id" in headers:
                    log.append(("session", headers[b"mcp-session-id"]))
            await send(message)

        return await app(scope, receive_logged, send_logged)

    return wrapped


@contextmanager
def recorded_server():
    """(base URL, log) of the reports server on a free 127.0.0.1 port, stopped on exit."""
    log: list = []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = _recording(reports_server().streamable_http_app(), log)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def _stub_model(context, params):
    """The client's model, stubbed: answers any sampling request (with tools or not)."""
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text="stub"), model="stub-model"
    )


async def _user_accepts(context, params):
    return types.ElicitResult(action="accept")


async def run_session(base_url: str) -> None:
    """One 2025-11-25 session: initialize with sampling (tools), URL elicitation and an
    extension declared, then the three tools."""
    async with Client(
        f"{base_url}/mcp",
        mode="legacy",
        sampling_callback=_stub_model,
        sampling_capabilities=types.SamplingCapability(tools=types.SamplingToolsCapability()),
        elicitation_callback=_user_accepts,
        extensions=[advertise("com.acme/audit")],
        client_info=types.Implementation(name="acme-agent", version="3.2.1"),
    ) as client:
        await client.call_tool("connect_crm", {})
        try:
            await client.call_tool("needs_auth", {})
        except Exception:  # noqa: BLE001 - the -32042 error is what the test wants on the wire
            pass
        await client.call_tool("summarize", {})


def session_ids(log: list) -> list[str]:
    """The Mcp-Session-Id values the server assigned, in order."""
    return list(dict.fromkeys(value.decode() for kind, value in log if kind == "session"))


def messages(log: list) -> list[tuple[str, dict]]:
    """The JSON-RPC messages of the log, in order, with their direction."""
    out = []
    for direction, body in log:
        if direction == "session":
            continue
        if direction == "c2s":
            decoded = orjson.loads(body)
            out += [(direction, m) for m in (decoded if isinstance(decoded, list) else [decoded])]
            continue
        for line in body.decode().splitlines():
            if line.startswith("data: "):
                out.append((direction, orjson.loads(line[6:])))
        if body[:1] == b"{":
            out.append((direction, orjson.loads(body)))
    return out


def exchanges(log: list) -> list[dict]:
    """Each request with its response, and each notification: what a gateway reports."""
    pending, out = {}, []
    for direction, message in messages(log):
        if "method" in message and "id" in message:
            pending[(direction, message["id"])] = message
        elif "method" in message:
            out.append({"method": message["method"], "params": message.get("params")})
        else:
            answered = "s2c" if direction == "c2s" else "c2s"
            request = pending.pop((answered, message.get("id")), None)
            if request:
                out.append(
                    {
                        "method": request["method"],
                        "params": request.get("params"),
                        "result": message.get("result"),
                        "error": message.get("error"),
                    }
                )
    return out


def native_events(log: list, *, session_id: str, client_id: str, server_name: str, url: str):
    """The exchanges as canonical events (attributes.params / result, error with its data)."""
    events = []
    for x in exchanges(log):
        event = {
            "id": f"sdk-{uuid.uuid4()}",
            "time": datetime.now(UTC).isoformat(),
            "type": "mcp.request" if x.get("result") or x.get("error") else "mcp.notification",
            "client": {"id": client_id},
            "server": {"name": server_name, "url": url},
            "actor": {"id": "00u-alice", "idp": "https://idp.example.com"},
            "session_id": session_id,
            "protocol_version": "2025-11-25",
            "method": x["method"],
            "outcome": "error" if x.get("error") else "success",
            "attributes": {k: x[k] for k in ("params", "result") if x.get(k) is not None},
        }
        if x.get("error"):
            event["error"] = x["error"]
        events.append(event)
    return events


def otlp_spans(log: list, *, session_id: str, client_id: str, server_name: str) -> dict:
    """The exchanges as OTLP/JSON spans with the payload attributes (docs/otlp.md)."""
    spans = []
    for x in exchanges(log):
        now = time.time_ns()
        attributes = {
            "mcp.method.name": x["method"],
            "mcp.session.id": session_id,
            "mcp.protocol.version": "2025-11-25",
            "mcp.server.name": server_name,
            "mcp.client.id": client_id,
            "user.id": "00u-alice",
        }
        for key, name in (
            ("params", "mcp.request.params"),
            ("result", "mcp.response.result"),
            ("error", "mcp.response.error"),
        ):
            if x.get(key) is not None:
                attributes[name] = orjson.dumps(x[key]).decode()
        if x.get("error"):
            attributes["rpc.response.status_code"] = str(x["error"]["code"])
            attributes["error.type"] = str(x["error"]["code"])
        spans.append(
            {
                "traceId": uuid.uuid4().hex,
                "spanId": uuid.uuid4().hex[:16],
                "name": x["method"],
                "kind": 2,
                "startTimeUnixNano": str(now - 1_000_000),
                "endTimeUnixNano": str(now),
                "attributes": [
                    {"key": k, "value": {"stringValue": v}} for k, v in attributes.items()
                ],
            }
        )
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
