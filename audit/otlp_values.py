"""OTLP values (AnyValue, attribute lists, nanosecond timestamps) as plain Python for the
mapping to canonical events (`audit.otlp_mapping`), with the caps that keep a hostile item small.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

# Free-form values are cut, not refused: an audit trail keeps what it can of a hostile item.
MAX_VALUE_CHARS = 4096
MAX_ATTRIBUTES = 128
MAX_ARRAY_ITEMS = 64
MAX_DEPTH = 6
CUT = "…[truncated]"


class Unmappable(Exception):
    """This one span or log record cannot become an audit event (the message says why)."""


def attributes_dict(key_values) -> tuple[dict, bool]:
    """A repeated KeyValue as a dict of plain values, and whether size caps cut anything."""
    out, truncated = {}, False
    if len(key_values) > MAX_ATTRIBUTES:
        key_values, truncated = key_values[:MAX_ATTRIBUTES], True
    for kv in key_values:
        value = kv.value
        if value.WhichOneof("value") == "string_value":  # the common case, inlined
            text = value.string_value
            if len(text) > MAX_VALUE_CHARS:
                text, truncated = text[:MAX_VALUE_CHARS] + CUT, True
            out[kv.key[:256]] = text
        else:
            plain = out[kv.key[:256]] = any_value(value)
            truncated |= isinstance(plain, str) and plain.endswith(CUT)
    return out, truncated


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
        return CUT
    if which == "array_value":
        return [any_value(v, depth + 1) for v in value.array_value.values[:MAX_ARRAY_ITEMS]]
    return {
        kv.key[:256]: any_value(kv.value, depth + 1)
        for kv in value.kvlist_value.values[:MAX_ATTRIBUTES]
    }


def clip(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + CUT


def rfc3339(time_ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 UTC with microseconds."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1000)
    except (OverflowError, OSError, ValueError):
        raise Unmappable("timestamp is out of range") from None
    return moment.isoformat().replace("+00:00", "Z")
