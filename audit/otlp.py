"""OTLP/HTTP export requests: content type, decoding, replies.

Turns the bytes of an `ExportTraceServiceRequest` or `ExportLogsServiceRequest` (binary protobuf or
the OTLP JSON mapping, optionally gzip- or deflate-compressed) into protobuf messages, and encodes
the matching `Export*ServiceResponse` or `google.rpc.Status` in the request's own encoding, as the
OTLP/HTTP specification asks. Mapping spans and log records to canonical audit events lives in
`audit.otlp_mapping`; the HTTP views in `audit.views_otlp`.

Everything here is about hostile input: the body is read and inflated with caps by
`audit.http_body` (shared with the native API), and every decoding failure becomes a
`BodyError` carrying the HTTP status to answer with.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import orjson
from google.protobuf import json_format  # replies only
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from audit.http_body import BodyError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


# gRPC status codes used in google.rpc.Status error bodies.
GRPC_INVALID_ARGUMENT = 3
GRPC_RESOURCE_EXHAUSTED = 8
GRPC_UNAUTHENTICATED = 16
GRPC_UNAVAILABLE = 14


@dataclass(frozen=True)
class Signal:
    """One OTLP signal endpoint: its request/response messages and how it names its items."""

    name: str
    request_cls: type[Message]
    response_cls: type[Message]
    item_noun: str
    rejected_field: str


TRACES = Signal(
    "traces",
    trace_service_pb2.ExportTraceServiceRequest,
    trace_service_pb2.ExportTraceServiceResponse,
    "spans",
    "rejected_spans",
)
LOGS = Signal(
    "logs",
    logs_service_pb2.ExportLogsServiceRequest,
    logs_service_pb2.ExportLogsServiceResponse,
    "log records",
    "rejected_log_records",
)


def media_type(content_type: str | None) -> str:
    """The request's OTLP encoding from its Content-Type, else a 415."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime in (PROTOBUF, JSON):
        return mime
    raise BodyError(415, f"Content-Type must be {PROTOBUF} or {JSON}, not {mime or 'missing'!r}.")


def decode(signal: Signal, body: bytes, media: str) -> Message:
    """Parse an export request; a body that is not one is a 400."""
    if media == PROTOBUF:
        return _decode_protobuf(signal, body)
    return _decode_json(signal, body)


def _decode_protobuf(signal: Signal, body: bytes) -> Message:
    message = signal.request_cls()
    try:
        message.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise BodyError(
            400, f"Body is not a valid protobuf {signal.request_cls.__name__}: {exc}."
        ) from None
    return message


def _decode_json(signal: Signal, body: bytes) -> Message:
    try:
        data = orjson.loads(body)  # also refuses non-UTF-8 and nesting deeper than 1024
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"Body is not valid UTF-8 JSON: {exc}.") from None
    name = signal.request_cls.__name__
    if not isinstance(data, dict):
        raise BodyError(400, f"Body must be a JSON object ({name}).")
    try:
        return signal.request_cls(**_json_kwargs(signal.request_cls.DESCRIPTOR, data, 0))
    except (_JsonShapeError, ValueError, TypeError) as exc:
        raise BodyError(400, f"Body is not a valid OTLP JSON {name}: {str(exc)[:300]}.") from None


# The OTLP JSON mapping is proto3 JSON except that trace and span ids are hex, not base64.
# protobuf's json_format parses it at ~6,000 spans/s (pure Python, generic); this converter walks
# the message descriptors once per field into constructor kwargs, and the C message constructor
# does the rest, several times faster. Same rules: camelCase or snake_case names, unknown fields
# ignored, 64-bit integers as strings or numbers, enums as integers or names, bytes as base64.
_MAX_JSON_DEPTH = 64
_HEX_IDS = {"trace_id": 16, "span_id": 8, "parent_span_id": 8}


class _JsonShapeError(ValueError):
    pass


def _json_kwargs(descriptor, data, depth: int) -> dict:
    if not isinstance(data, dict):
        raise _JsonShapeError(f"{descriptor.name} must be a JSON object")
    if depth > _MAX_JSON_DEPTH:
        raise _JsonShapeError("nested too deeply")
    fields = _json_fields(descriptor)
    kwargs = {}
    for key, value in data.items():
        spec = fields.get(key)
        if spec is None or value is None:
            continue  # unknown fields are ignored, as OTLP receivers must
        name, repeated, convert = spec
        if repeated:
            if not isinstance(value, list):
                raise _JsonShapeError(f"{key} must be a list")
            kwargs[name] = [convert(item, depth + 1) for item in value]
        else:
            kwargs[name] = convert(value, depth + 1)
    return kwargs


_FIELDS_CACHE: dict = {}


def _json_fields(descriptor) -> dict:
    cached = _FIELDS_CACHE.get(descriptor.full_name)
    if cached is None:
        cached = {}
        for field in descriptor.fields:
            spec = (field.name, field.is_repeated, _converter(field))
            cached[field.name] = cached[field.json_name] = spec
        _FIELDS_CACHE[descriptor.full_name] = cached
    return cached


def _converter(field):
    kind = field.type
    if kind == field.TYPE_MESSAGE:
        sub = field.message_type
        return lambda value, depth: _json_kwargs(sub, value, depth)
    if kind == field.TYPE_BYTES:
        size = _HEX_IDS.get(field.name)
        return (lambda value, depth: _json_id(value, size)) if size else _json_bytes
    if kind == field.TYPE_STRING:
        return _json_string
    if kind == field.TYPE_BOOL:
        return _json_bool
    if kind in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
        return _json_float
    if kind == field.TYPE_ENUM:
        return _json_enum
    return _json_int


def _json_string(value, depth):
    if not isinstance(value, str):
        raise _JsonShapeError(f"expected a string, got {type(value).__name__}")
    return value


def _json_bool(value, depth):
    if not isinstance(value, bool):
        raise _JsonShapeError(f"expected true or false, got {type(value).__name__}")
    return value


def _json_int(value, depth):
    if isinstance(value, bool) or not isinstance(value, (int, str, float)):
        raise _JsonShapeError(f"expected an integer, got {type(value).__name__}")
    if isinstance(value, float):
        if not value.is_integer():
            raise _JsonShapeError(f"expected an integer, got {value}")
        return int(value)
    return int(value)  # int("soon") is a ValueError: a 400


def _json_float(value, depth):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _JsonShapeError(f"expected a number, got {type(value).__name__}")
    if isinstance(value, str) and value not in ("NaN", "Infinity", "-Infinity"):
        raise _JsonShapeError(f"expected a number, got {value[:40]!r}")
    return float(value)


def _json_enum(value, depth):
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value  # the constructor takes enum names and numbers (unknown ones are kept)
    raise _JsonShapeError(f"expected an enum name or number, got {type(value).__name__}")


def _json_bytes(value, depth):
    if not isinstance(value, str):
        raise _JsonShapeError("expected base64 bytes")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _JsonShapeError("expected base64 bytes") from None


def _json_id(value, size: int) -> bytes:
    """Hex id as the spec says; tolerate proto3-style base64; anything else becomes empty, which
    the mapper rejects for that one item instead of failing the whole request."""
    if not isinstance(value, str):
        return b""
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""
    return raw if len(raw) == size else b""


def encode_response(signal: Signal, media: str, *, rejected: int, error_message: str) -> bytes:
    """The Export*ServiceResponse, with partial_success only when something was rejected."""
    response = signal.response_cls()
    if rejected or error_message:
        setattr(response.partial_success, signal.rejected_field, rejected)
        response.partial_success.error_message = error_message
    if media == PROTOBUF:
        return response.SerializeToString()
    return orjson.dumps(json_format.MessageToDict(response))


def encode_status(media: str, *, code: int, message: str) -> bytes:
    """A google.rpc.Status error body (code, message), as OTLP/HTTP failures carry."""
    if media == PROTOBUF:
        # Two scalar fields; encoded by hand so googleapis-common-protos is not a runtime need.
        text = message.encode("utf-8", "replace")
        return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
    return orjson.dumps({"code": code, "message": message})


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
