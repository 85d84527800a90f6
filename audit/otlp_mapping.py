"""Map OTLP spans and log records that follow the OpenTelemetry MCP conventions to audit events.

The conventions (semantic-conventions-genai, docs/gen-ai/mcp.md) put `mcp.method.name`,
`mcp.session.id`, `mcp.protocol.version`, `gen_ai.tool.name`, `jsonrpc.request.id`, `error.type`,
`rpc.response.status_code`, `server.address`/`server.port` ... on the span (or log record); the
emitting service is described by resource attributes. See docs/otlp.md for the full table.

Each item maps on its own: one that cannot be mapped (no timestamp, not MCP, malformed ids, a
mapped field of the wrong type or absurd length) is rejected with a message naming the field,
and never takes the good items beside it down.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from opentelemetry.proto.trace.v1 import trace_pb2

# Free-form values are cut, not refused: an audit trail keeps what it can of a hostile item.
MAX_VALUE_CHARS = 4096
MAX_ATTRIBUTES = 128
MAX_ARRAY_ITEMS = 64
MAX_DEPTH = 6
# Identifier fields are refused when longer than this: a 1 MB "session id" is not an id.
MAX_ID_CHARS = 512
MAX_URL_CHARS = 2048

_CANONICAL_TYPE = re.compile(r"^(mcp|auth|task|session)\.[a-z0-9_]+(\.[a-z0-9_]+)*$")
_KNOWN_METHODS = frozenset({
    "completion/complete", "elicitation/create", "initialize", "logging/setLevel", "ping",
    "prompts/get", "prompts/list", "resources/list", "resources/read", "resources/subscribe",
    "resources/templates/list", "resources/unsubscribe", "roots/list", "sampling/createMessage",
    "tools/call", "tools/list", "tasks/get", "tasks/result", "tasks/list", "tasks/cancel",
    "server/discover", "subscriptions/listen",
})
_DENIED = frozenset({"401", "403", "unauthorized", "unauthenticated", "forbidden",
                     "access_denied", "permission_denied", "insufficient_scope"})
_OUTCOMES = frozenset({"success", "error", "denied"})
_KIND_NAMES = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer",
               5: "consumer"}


class Unmappable(Exception):
    """This one span or log record cannot become an audit event (the message says why)."""


@dataclass
class Mapped:
    """Events ready for the ingest core, and why the other items were rejected."""

    events: list[dict] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # a short name per event, for messages
    rejected: list[str] = field(default_factory=list)


def map_traces(request) -> Mapped:
    """All spans of an ExportTraceServiceRequest."""
    out = Mapped()
    for resource_spans in request.resource_spans:
        resource = attributes_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            for span in scope_spans.spans:
                label = f"span {span.span_id.hex() or '?'}"
                try:
                    out.events.append(span_event(span, resource, scope))
                    out.labels.append(label)
                except Unmappable as exc:
                    out.rejected.append(f"{label}: {exc}")
    return out


def map_logs(request) -> Mapped:
    """All log records of an ExportLogsServiceRequest."""
    out = Mapped()
    for resource_logs in request.resource_logs:
        resource_msg = resource_logs.resource
        resource = attributes_dict(resource_msg.attributes)
        for scope_logs in resource_logs.scope_logs:
            for position, record in enumerate(scope_logs.log_records):
                label = f"log record {position} of scope {scope_logs.scope.name[:80]!r}"
                try:
                    out.events.append(log_event(record, resource, scope_logs.scope, resource_msg))
                    out.labels.append(label)
                except Unmappable as exc:
                    out.rejected.append(f"{label}: {exc}")
    return out


# --- spans ------------------------------------------------------------------------------------

def span_event(span, resource: dict, scope) -> dict:
    """One span as a canonical audit event."""
    if len(span.trace_id) != 16 or not any(span.trace_id):
        raise Unmappable("trace_id is missing or not 16 bytes")
    if len(span.span_id) != 8 or not any(span.span_id):
        raise Unmappable("span_id is missing or not 8 bytes")
    if not span.start_time_unix_nano:
        raise Unmappable("start_time_unix_nano is missing")
    fields = _Fields(attributes_dict(span.attributes), resource)
    method = fields.text("mcp.method.name") or _method_from_name(span.name)
    kind = _KIND_NAMES.get(span.kind, str(span.kind))
    event = {
        "id": f"otlp:{span.trace_id.hex()}:{span.span_id.hex()}",
        "time": rfc3339(span.start_time_unix_nano),
    }
    failed = span.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    _common(event, fields, method=method, kind=kind, failed=failed,
            message=span.status.message or _exception_message(span))
    if span.end_time_unix_nano >= span.start_time_unix_nano:
        event["duration_ms"] = round((span.end_time_unix_nano - span.start_time_unix_nano) / 1e6, 3)
    otel = {"signal": "span", "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
            "name": clip(span.name), "kind": kind, "scope": _scope(scope)}
    if span.parent_span_id:
        otel["parent_span_id"] = span.parent_span_id.hex()
    if span.status.message:
        otel["status_message"] = clip(span.status.message)
    _finish(event, fields, otel)
    return event


def _method_from_name(name: str) -> str | None:
    # Span names are "{mcp.method.name} {target}"; only trust a well-known method there.
    method = name.split(" ", 1)[0]
    return method if method in _KNOWN_METHODS else None


def _exception_message(span) -> str:
    for span_event_ in span.events:
        if span_event_.name == "exception":
            attrs = attributes_dict(span_event_.attributes)
            message = attrs.get("exception.message") or attrs.get("exception.type")
            if message:
                return str(message)
    return ""


# --- log records ----------------------------------------------------------------------------

def log_event(record, resource: dict, scope, resource_msg) -> dict:
    """One log record as a canonical audit event."""
    time_ns = record.time_unix_nano or record.observed_time_unix_nano
    if not time_ns:
        raise Unmappable("time_unix_nano and observed_time_unix_nano are both missing")
    fields = _Fields(attributes_dict(record.attributes), resource)
    method = fields.text("mcp.method.name")
    event = {"id": _log_id(record, fields, scope, resource_msg), "time": rfc3339(time_ns)}
    body = any_value(record.body) if record.HasField("body") else None
    failed = record.severity_number >= 17  # ERROR and above
    _common(event, fields, method=method, kind="log", failed=failed,
            message=body if isinstance(body, str) else "", event_name=record.event_name)
    otel = {"signal": "log", "scope": _scope(scope), "severity_number": record.severity_number}
    if record.severity_text:
        otel["severity_text"] = clip(record.severity_text)
    if body is not None:
        otel["body"] = body
    if len(record.trace_id) == 16:
        otel["trace_id"] = record.trace_id.hex()
    if len(record.span_id) == 8:
        otel["span_id"] = record.span_id.hex()
    _finish(event, fields, otel)
    return event


def _log_id(record, fields: "_Fields", scope, resource_msg) -> str:
    """`log.record.uid` when the emitter set one, else a hash of everything that was sent, so a
    retried export (same bytes) gets the same id and is deduplicated by the ingest core."""
    uid = fields.text("log.record.uid")
    if uid:
        return f"otlp-log:{uid}"
    digest = hashlib.sha256()
    for part in (resource_msg.SerializeToString(deterministic=True),
                 scope.SerializeToString(deterministic=True),
                 record.SerializeToString(deterministic=True)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return f"otlp-log:{digest.hexdigest()[:40]}"


# --- the canonical fields both signals share ------------------------------------------------

def _common(event: dict, fields: "_Fields", *, method, kind: str, failed: bool, message: str,
            event_name: str = "") -> None:
    event_name = event_name or fields.text("event.name") or ""
    if _CANONICAL_TYPE.match(event_name):
        event["type"] = event_name
    elif method:
        event["type"] = "mcp.notification" if method.startswith("notifications/") else "mcp.request"
    else:
        raise Unmappable("not an MCP item: no mcp.method.name attribute (nor an MCP event.name)")
    _put(event, "method", method)
    _put(event, "session_id", fields.text("mcp.session.id"))
    _put(event, "protocol_version", fields.text("mcp.protocol.version"))
    _put(event, "tool", fields.text("gen_ai.tool.name"))
    _put(event, "actor", _actor(fields))
    _put(event, "client", _client(fields, kind))
    _put(event, "server", _server(fields, kind))
    _put(event, "task", _task(fields))
    _outcome(event, fields, failed=failed, message=message)


def _actor(fields: "_Fields") -> dict:
    return _compact({
        "id": fields.text("user.id") or fields.text("enduser.id"),
        "email": fields.text("user.email"),
        "name": fields.text("user.full_name") or fields.text("user.name"),
    })


def _client(fields: "_Fields", kind: str) -> dict:
    # On a CLIENT span the emitting service is the MCP client; explicit mcp.client.* wins.
    client = _compact({
        "id": fields.text("mcp.client.id", limit=MAX_URL_CHARS),
        "name": fields.text("mcp.client.name"),
        "version": fields.text("mcp.client.version"),
    })
    if kind == "client" and "name" not in client:
        _put(client, "name", fields.text("service.name"))
        _put(client, "version", fields.text("service.version"))
    return client


def _server(fields: "_Fields", kind: str) -> dict:
    server = _compact({
        "name": fields.text("mcp.server.name"),
        "version": fields.text("mcp.server.version"),
        "url": fields.text("mcp.server.url", limit=MAX_URL_CHARS)
        or fields.text("url.full", limit=MAX_URL_CHARS),
    })
    if kind == "client":
        # Seen from the client, server.address is the peer: the best name we have for it.
        if "name" not in server:
            _put(server, "name", fields.text("server.address", keep=True))
    elif "name" not in server:
        # Server spans and logs are emitted by the MCP server (or gateway) itself.
        _put(server, "name", fields.text("service.name"))
        _put(server, "version", fields.text("service.version"))
    return server


def _task(fields: "_Fields") -> dict:
    return _compact({
        "id": fields.text("mcp.task.id"),
        "status": fields.text("mcp.task.status"),
        "ttl": fields.number("mcp.task.ttl"),
        "poll_interval": fields.number("mcp.task.poll_interval"),
        "status_message": fields.text("mcp.task.status_message", limit=MAX_VALUE_CHARS),
    })


def _outcome(event: dict, fields: "_Fields", *, failed: bool, message: str) -> None:
    error_type = fields.text("error.type")
    status_code = fields.text("rpc.response.status_code")
    explicit = (fields.text("outcome") or "").lower()
    http_status = str(fields.raw("http.response.status_code", keep=True) or "")
    if explicit in _OUTCOMES:
        outcome = explicit
    elif failed or error_type:
        signals = {str(v).lower() for v in (error_type, status_code, http_status) if v}
        outcome = "denied" if signals & _DENIED else "error"
    else:
        outcome = "success"
    event["outcome"] = outcome
    if outcome == "success":
        if status_code:
            event.setdefault("attributes", {})["rpc.response.status_code"] = status_code
        return
    _put(event, "error", _compact({"code": status_code or error_type,
                                   "message": clip(message) if message else None}))
    if error_type and status_code:
        event.setdefault("attributes", {})["error.type"] = error_type


def _finish(event: dict, fields: "_Fields", otel: dict) -> None:
    attributes = event.setdefault("attributes", {})
    attributes.update(fields.leftover())
    resource_rest = fields.leftover_resource()
    if resource_rest:
        otel["resource"] = resource_rest
    if fields.truncated:
        otel["truncated"] = True
    attributes["otel"] = otel


class _Fields:
    """Attribute lookup: the item's own attributes first, then its resource's. What a lookup
    takes is removed, so what is left over becomes the event's `attributes`."""

    def __init__(self, item: dict, resource: dict):
        self.item, self.resource = item, dict(resource)
        self.truncated = getattr(item, "truncated", False) or getattr(resource, "truncated", False)

    def raw(self, key: str, *, keep: bool = False):
        for source in (self.item, self.resource):
            if key in source:
                return source[key] if keep else source.pop(key)
        return None

    def text(self, key: str, *, limit: int = MAX_ID_CHARS, keep: bool = False) -> str | None:
        value = self.raw(key, keep=keep)
        if value is None or value == "":
            return None
        if isinstance(value, (dict, list)):
            raise Unmappable(f"{key}: expected a string, got {type(value).__name__}")
        value = str(value)
        if len(value) > limit:
            raise Unmappable(f"{key}: longer than {limit} characters")
        return value

    def number(self, key: str) -> float | int | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise Unmappable(f"{key}: expected a number")
        try:
            number = float(value)
        except ValueError:
            raise Unmappable(f"{key}: expected a number, got {str(value)[:40]!r}") from None
        return int(number) if number.is_integer() else number

    def leftover(self) -> dict:
        return dict(self.item)

    def leftover_resource(self) -> dict:
        return dict(self.resource)


# --- OTLP value helpers ----------------------------------------------------------------------

class _AttrDict(dict):
    truncated = False


def attributes_dict(key_values) -> dict:
    """A repeated KeyValue as a dict of plain values, with size caps (marked `truncated`)."""
    out = _AttrDict()
    for index, kv in enumerate(key_values):
        if index >= MAX_ATTRIBUTES:
            out.truncated = True
            break
        key = kv.key[:256]
        value = any_value(kv.value)
        out.truncated |= _was_cut(value)
        out[key] = value
    return out


def any_value(value, depth: int = 0):
    """An AnyValue as a plain JSON-able value; long strings and deep nesting are cut."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "string_value":
        return clip(value.string_value)
    if which in ("bool_value", "int_value", "double_value"):
        number = getattr(value, which)
        return number if number == number and abs(number) != float("inf") else str(number)
    if which == "bytes_value":
        return clip(base64.b64encode(value.bytes_value[:MAX_VALUE_CHARS]).decode())
    if depth >= MAX_DEPTH:
        return _CUT
    if which == "array_value":
        return [any_value(v, depth + 1) for v in value.array_value.values[:MAX_ARRAY_ITEMS]]
    return {kv.key[:256]: any_value(kv.value, depth + 1)
            for kv in value.kvlist_value.values[:MAX_ATTRIBUTES]}


_CUT = "…[truncated]"


def clip(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + _CUT


def _was_cut(value) -> bool:
    return isinstance(value, str) and value.endswith(_CUT)


def rfc3339(time_ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 UTC with microseconds."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1000)
    except (OverflowError, OSError, ValueError):
        raise Unmappable("timestamp is out of range") from None
    return moment.isoformat().replace("+00:00", "Z")


def _scope(scope) -> dict:
    return _compact({"name": clip(scope.name) or None, "version": clip(scope.version) or None})


def _compact(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not None and value != ""}


def _put(target: dict, key: str, value) -> None:
    if value is not None and value != "" and value != {}:
        target[key] = value
