"""Map OTLP spans and log records that follow the OpenTelemetry MCP conventions to audit events.

The conventions (semantic-conventions-genai, docs/gen-ai/mcp.md) put `mcp.method.name`,
`mcp.session.id`, `mcp.protocol.version`, `gen_ai.tool.name`, `jsonrpc.request.id`, `error.type`,
`rpc.response.status_code`, `server.address`/`server.port` ... on the span (or log record); the
emitting service is described by resource attributes. See docs/otlp.md for the full table.
Which attribute names feed which field (aliases, an event source's own names) is
`audit.otlp_attributes`; naming the server a CLIENT span called is `audit.otlp_peers`.

Each item maps on its own: one that cannot be mapped (no timestamp, nothing about MCP, malformed
ids, a mapped field of the wrong type or absurd length) is rejected with a message naming the
field, and never takes the good items beside it down.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import orjson
from opentelemetry.proto.trace.v1 import trace_pb2

from audit.otlp_attributes import aliases_for, take
from audit.otlp_peers import Peer, name_called_servers, peer_from_span
from audit.otlp_values import Unmappable, any_value, attributes_dict, clip, rfc3339
from audit.services.validation import service_actor

_CANONICAL_TYPE = re.compile(r"^(mcp|auth|task|session)\.[a-z0-9_]+(\.[a-z0-9_]+)*$")
_KNOWN_METHODS = frozenset(
    {
        "completion/complete",
        "elicitation/create",
        "initialize",
        "logging/setLevel",
        "ping",
        "prompts/get",
        "prompts/list",
        "resources/list",
        "resources/read",
        "resources/subscribe",
        "resources/templates/list",
        "resources/unsubscribe",
        "roots/list",
        "sampling/createMessage",
        "tools/call",
        "tools/list",
        "tasks/get",
        "tasks/result",
        "tasks/list",
        "tasks/cancel",
        "server/discover",
        "subscriptions/listen",
    }
)
_DENIED = frozenset(
    {
        "401",
        "403",
        "unauthorized",
        "unauthenticated",
        "forbidden",
        "access_denied",
        "permission_denied",
        "insufficient_scope",
    }
)
_OUTCOMES = frozenset({"success", "error", "denied"})
_KIND_NAMES = {
    0: "unspecified",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
}


@dataclass
class Mapped:
    """Events ready for the ingest core, and why the other items were rejected."""

    events: list[dict] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # a short name per event, for messages
    rejected: list[str] = field(default_factory=list)


def map_traces(request, *, mapping: dict | None = None, remotes=None) -> Mapped:
    """All spans of an ExportTraceServiceRequest. `mapping` is the event source's own attribute
    names ({canonical field: [attribute, ...]}); `remotes(hosts)` looks up the inventory's
    (remote url, server name) rows, to name the server a CLIENT span called."""
    out, aliases, called = Mapped(), aliases_for(mapping), []
    for resource_spans in request.resource_spans:
        resource = _Resource(resource_spans.resource, aliases)
        for scope_spans in resource_spans.scope_spans:
            scope = _scope(scope_spans.scope)
            for span in scope_spans.spans:
                label = f"span {span.span_id.hex() or '?'}"
                try:
                    event, peer = _span_event(span, resource, scope, aliases)
                except Unmappable as exc:
                    out.rejected.append(f"{label}: {exc}")
                    continue
                if peer is not None:
                    called.append((len(out.events), peer))
                out.events.append(event)
                out.labels.append(label)
    if called:
        name_called_servers(out.events, called, remotes)
    return out


def map_logs(request, *, mapping: dict | None = None) -> Mapped:
    """All log records of an ExportLogsServiceRequest (`mapping` as for map_traces)."""
    out, aliases = Mapped(), aliases_for(mapping)
    for resource_logs in request.resource_logs:
        resource = _Resource(resource_logs.resource, aliases)
        for scope_logs in resource_logs.scope_logs:
            scope = _scope(scope_logs.scope)
            scope_bytes = scope_logs.scope.SerializeToString(deterministic=True)
            for position, record in enumerate(scope_logs.log_records):
                label = f"log record {position} of scope {scope_logs.scope.name[:80]!r}"
                try:
                    out.events.append(log_event(record, resource, scope, scope_bytes, aliases))
                    out.labels.append(label)
                except Unmappable as exc:
                    out.rejected.append(f"{label}: {exc}")
    return out


# --- the item's attributes and its resource's ---------------------------------------------


class _Resource:
    """A resource's attributes, split once per export into mapped values and leftovers."""

    def __init__(self, message, aliases: dict):
        self.message = message
        attrs, self.truncated = attributes_dict(message.attributes)
        self.error = None
        try:
            self.found = take(attrs, aliases)
        except Unmappable as exc:
            self.found, self.error = {}, f"resource {exc}"
        self.rest = dict(attrs)
        self._bytes = None

    def serialized(self) -> bytes:
        if self._bytes is None:
            self._bytes = self.message.SerializeToString(deterministic=True)
        return self._bytes


def _fields(attrs: dict, resource: _Resource, aliases: dict) -> dict:
    """The item's mapped values over its resource's (the item's own win)."""
    if resource.error:
        raise Unmappable(resource.error)
    found = take(attrs, aliases)
    return {**resource.found, **found} if resource.found else found


# --- spans ------------------------------------------------------------------------------------


def _span_event(span, resource: _Resource, scope: dict, aliases: dict) -> tuple[dict, Peer | None]:
    """One span as a canonical audit event, and the server it called when it is a CLIENT span
    that names that server only by address."""
    trace_id, span_id = span.trace_id, span.span_id
    if len(trace_id) != 16 or not any(trace_id):
        raise Unmappable("trace_id is missing or not 16 bytes")
    if len(span_id) != 8 or not any(span_id):
        raise Unmappable("span_id is missing or not 8 bytes")
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if not start:
        raise Unmappable("start_time_unix_nano is missing")
    attrs, truncated = attributes_dict(span.attributes)
    about_mcp = _about_mcp(attrs)
    fields = _fields(attrs, resource, aliases)
    method = fields.get("mcp.method.name") or _method_from_name(span.name)
    kind = _KIND_NAMES.get(span.kind, str(span.kind))
    trace_hex, span_hex = trace_id.hex(), span_id.hex()
    event = {"id": f"otlp:{trace_hex}:{span_hex}", "time": rfc3339(start)}
    failed = span.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    message = span.status.message or (_exception_message(span) if failed or span.events else "")
    service_used = _common(
        event, fields, method=method, kind=kind, failed=failed, message=message, about_mcp=about_mcp
    )
    peer = None
    if kind == "client" and not fields.get("mcp.server.name"):
        peer = peer_from_span(fields.get("url.full"), attrs, fields.get("server.address"))
    if end >= start:
        event["duration_ms"] = round((end - start) / 1e6, 3)
    otel = {
        "signal": "span",
        "trace_id": trace_hex,
        "span_id": span_hex,
        "name": clip(span.name),
        "kind": kind,
        "scope": dict(scope),
    }
    if span.parent_span_id:
        otel["parent_span_id"] = span.parent_span_id.hex()
    if span.status.message:
        otel["status_message"] = clip(span.status.message)
    _finish(event, attrs, truncated, resource, fields, otel, service_used)
    return event, peer


def _method_from_name(name: str) -> str | None:
    # Span names are "{mcp.method.name} {target}" (the MCP Python SDK's client spans: "MCP send
    # {method} {target}"); only trust a well-known method there.
    words = name.split(" ", 3)
    method = words[2] if words[:2] == ["MCP", "send"] and len(words) > 2 else words[0]
    return method if method in _KNOWN_METHODS else None


def _about_mcp(attrs: dict) -> bool:
    """The item carries an attribute of the MCP namespace (mcp.method.name, mcp.task.id, ...)."""
    return any(key.startswith("mcp.") for key in attrs)


def _exception_message(span) -> str:
    for span_event_ in span.events:
        if span_event_.name == "exception":
            attrs, _ = attributes_dict(span_event_.attributes)
            message = attrs.get("exception.message") or attrs.get("exception.type")
            if message:
                return str(message)
    return ""


# --- log records ----------------------------------------------------------------------------


def log_event(record, resource: _Resource, scope: dict, scope_bytes: bytes, aliases: dict) -> dict:
    """One log record as a canonical audit event."""
    time_ns = record.time_unix_nano or record.observed_time_unix_nano
    if not time_ns:
        raise Unmappable("time_unix_nano and observed_time_unix_nano are both missing")
    attrs, truncated = attributes_dict(record.attributes)
    about_mcp = _about_mcp(attrs)
    fields = _fields(attrs, resource, aliases)
    method = fields.get("mcp.method.name")
    event = {"id": _log_id(record, fields, scope_bytes, resource), "time": rfc3339(time_ns)}
    body = any_value(record.body) if record.HasField("body") else None
    failed = record.severity_number >= 17  # ERROR and above
    service_used = _common(
        event,
        fields,
        method=method,
        kind="log",
        failed=failed,
        message=body if isinstance(body, str) else "",
        event_name=record.event_name,
        about_mcp=about_mcp,
    )
    otel = {"signal": "log", "scope": dict(scope), "severity_number": record.severity_number}
    if record.severity_text:
        otel["severity_text"] = clip(record.severity_text)
    if body is not None:
        otel["body"] = body
    if len(record.trace_id) == 16:
        otel["trace_id"] = record.trace_id.hex()
    if len(record.span_id) == 8:
        otel["span_id"] = record.span_id.hex()
    _finish(event, attrs, truncated, resource, fields, otel, service_used)
    return event


def _log_id(record, fields: dict, scope_bytes: bytes, resource: _Resource) -> str:
    """`log.record.uid` when the emitter set one, else a hash of everything that was sent, so a
    retried export (same bytes) gets the same id and is deduplicated by the ingest core."""
    uid = fields.get("log.record.uid")
    if uid:
        return f"otlp-log:{uid}"
    digest = hashlib.sha256()
    for part in (resource.serialized(), scope_bytes, record.SerializeToString(deterministic=True)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return f"otlp-log:{digest.hexdigest()[:40]}"


# --- the canonical fields both signals share ------------------------------------------------


def _common(
    event: dict,
    fields: dict,
    *,
    method,
    kind: str,
    failed: bool,
    message: str,
    about_mcp: bool,
    event_name: str = "",
) -> bool:
    """Fill the shared canonical fields; True when service.name became a client/server name."""
    event["type"] = _type(fields, method, event_name or fields.get("event.name") or "", about_mcp)
    get = fields.get
    for name, key in (
        ("method", None),
        ("session_id", "mcp.session.id"),
        ("protocol_version", "mcp.protocol.version"),
        ("tool", "gen_ai.tool.name"),
    ):
        value = method if key is None else get(key)
        if value:
            event[name] = value
    actor = _compact(
        {
            "id": get("user.id") or get("enduser.id"),
            "email": get("user.email"),
            "name": get("user.full_name") or get("user.name"),
        }
    )
    if actor:
        event["actor"] = actor
    client, server, service_used = _peers(fields, kind)
    if not actor:
        # Machine to machine (client credentials): no user, so the OAuth client itself is the
        # principal, as its token's `sub` is; written into the event by the native API's one
        # rule (which also leaves out a client id too long to be an identity's subject).
        principal = _compact(service_actor({}, client))
        if principal:
            event["actor"] = principal
    if client:
        event["client"] = client
    if server:
        event["server"] = server
    if _TASK_KEYS_SET.intersection(fields):
        event["task"] = _compact({name: get(key) for name, key in _TASK_KEYS.items()})
    _outcome(event, fields, failed=failed, message=message)
    return service_used


def _type(fields: dict, method, event_name: str, about_mcp: bool) -> str:
    """The canonical event type; an item that says nothing about MCP is not audit data."""
    if _CANONICAL_TYPE.match(event_name):
        return event_name
    if method:
        return "mcp.notification" if method.startswith("notifications/") else "mcp.request"
    if _TASK_KEYS_SET.intersection(fields):
        return "task.status"  # e.g. the INTERNAL span of a task's execution
    if about_mcp:
        return "mcp.activity"
    raise Unmappable(
        "not an MCP item: no mcp.method.name nor other mcp.* attribute, no MCP "
        "method in its name, no MCP event.name"
    )


_TASK_KEYS = {
    "id": "mcp.task.id",
    "status": "mcp.task.status",
    "ttl": "mcp.task.ttl",
    "poll_interval": "mcp.task.poll_interval",
    "status_message": "mcp.task.status_message",
}
_TASK_KEYS_SET = frozenset(_TASK_KEYS.values())


def _peers(fields: dict, kind: str) -> tuple[dict, dict, bool]:
    """The MCP client and server of the item. On a CLIENT span the emitting service is the
    client and server.address names the peer; elsewhere the emitter is the server (or gateway).
    Explicit mcp.client.* / mcp.server.* attributes win."""
    get = fields.get
    client = _compact(
        {
            "id": get("mcp.client.id"),
            "name": get("mcp.client.name"),
            "version": get("mcp.client.version"),
        }
    )
    server = _compact(
        {
            "name": get("mcp.server.name"),
            "version": get("mcp.server.version"),
            "url": get("mcp.server.url") or get("url.full"),
        }
    )
    service = _compact({"name": get("service.name"), "version": get("service.version")})
    used = False
    if kind == "client":
        if "name" not in client and service:
            client.update(service)
            used = True
        if "name" not in server and get("server.address"):
            server["name"] = get("server.address")
    elif "name" not in server and service:
        server.update(service)
        used = True
    return client, server, used


def _outcome(event: dict, fields: dict, *, failed: bool, message: str) -> None:
    get = fields.get
    error_type, status_code = get("error.type"), get("rpc.response.status_code")
    explicit = (get("outcome") or "").lower()
    if explicit in _OUTCOMES:
        outcome = explicit
    elif failed or error_type:
        signals = {
            str(v).lower() for v in (error_type, status_code, get("http.response.status_code")) if v
        }
        outcome = "denied" if signals & _DENIED else "error"
    else:
        outcome = "success"
    event["outcome"] = outcome
    if outcome == "success":
        return
    error = _compact(
        {"code": _code(status_code or error_type), "message": clip(message) if message else None}
    )
    if error:
        event["error"] = error


def _code(value: str | None) -> int | str | None:
    """JSON-RPC error codes are integers; semconv records them as strings ("-32602")."""
    if value and _INTEGER.match(value):
        return int(value)
    return value


_INTEGER = re.compile(r"^-?[0-9]{1,12}$")


def _finish(
    event: dict,
    attrs: dict,
    truncated: bool,
    resource: _Resource,
    fields: dict,
    otel: dict,
    service_used: bool,
) -> None:
    """`attributes`: the item's unmapped attributes, plus `otel` (ids, scope, resource)."""
    get = fields.get
    if event["outcome"] == "success" and get("rpc.response.status_code"):
        attrs["rpc.response.status_code"] = get("rpc.response.status_code")
    if get("error.type") and get("rpc.response.status_code"):
        attrs["error.type"] = get("error.type")  # error.code holds the JSON-RPC code
    for name, key in PAYLOAD_ATTRIBUTES:
        if name in attrs and key not in attrs:
            payload = _payload(attrs[name])
            if payload is not None:  # else it stays as sent, under its own name
                attrs[key] = payload
                del attrs[name]
    rest = dict(resource.rest)
    if not service_used:
        # Not used as a client or server name: keep the emitter's identity with the event.
        for key in ("service.name", "service.version"):
            if key in resource.found:
                rest[key] = resource.found[key]
    if rest:
        otel["resource"] = rest
    if truncated or resource.truncated:
        otel["truncated"] = True
    attrs["otel"] = otel
    event["attributes"] = attrs


# The raw JSON-RPC payloads an instrumentation may attach (a JSON text, or a map): moved where
# the native API carries them, so the protocol features are read from both alike (docs/otlp.md).
PAYLOAD_ATTRIBUTES = (
    ("mcp.request.params", "params"),
    ("mcp.response.result", "result"),
    ("mcp.response.error", "error"),
)


def _payload(value) -> dict | None:
    if isinstance(value, str) and value[:1] == "{":
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value if isinstance(value, dict) else None


def _scope(scope) -> dict:
    return _compact({"name": clip(scope.name) or None, "version": clip(scope.version) or None})


def _compact(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not None and value != ""}
