"""Which OTLP attributes feed which canonical fields, and an event source's own additions.

Instrumentations disagree on names: the OpenTelemetry MCP conventions have no client id at all,
gateways and auth middleware put the OAuth client in `oauth.client_id` or `client_id`, some
instrumentations name the tool `mcp.tool.name`. Each canonical field is read from one primary
attribute (the name the rest of the mapping uses), then from its built-in aliases, then from the
names an Admin mapped for that event source (`EventSource.otlp_attribute_map`).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from audit.otlp_values import Unmappable

# attribute -> longest accepted value, the same as the canonical field it feeds accepts (the
# ingest core's validation), so a refusal names the OpenTelemetry attribute. Mapped attributes are
# taken out of `attributes`.
TEXT = {
    "mcp.method.name": 100,
    "mcp.session.id": 300,
    "mcp.protocol.version": 50,
    "gen_ai.tool.name": 300,
    "user.id": 300,
    "enduser.id": 300,
    "user.email": 300,
    "user.full_name": 300,
    "user.name": 300,
    "mcp.client.id": 500,
    "mcp.client.name": 300,
    "mcp.client.version": 100,
    "mcp.server.name": 300,
    "mcp.server.version": 255,
    "service.name": 300,
    "service.version": 100,
    "mcp.task.id": 300,
    "mcp.task.status": 50,
    "mcp.task.status_message": 4000,
    "error.type": 300,
    "rpc.response.status_code": 300,
    "outcome": 50,
    "event.name": 200,
    "log.record.uid": 290,
}
NUMBER = frozenset({"mcp.task.ttl", "mcp.task.poll_interval"})
# server.url must be an http(s) URL of at most 1,000 characters; any other URL (a stdio command
# line, a file: URI) stays in `attributes` instead of costing the event.
URLS = frozenset({"mcp.server.url", "url.full"})
MAX_URL_CHARS = 1000
MAPPED = frozenset(TEXT) | NUMBER
# Read for a canonical field but also left in `attributes`, where they stay useful as sent.
KEPT = {"server.address": 300, "http.response.status_code": 50}

# Canonical field (as an Admin names it) -> the primary attribute it is read from.
FIELDS = {
    "client.id": "mcp.client.id",
    "client.name": "mcp.client.name",
    "client.version": "mcp.client.version",
    "actor.id": "user.id",
    "actor.email": "user.email",
    "actor.name": "user.full_name",
    "server.name": "mcp.server.name",
    "server.version": "mcp.server.version",
    "server.url": "mcp.server.url",
    "method": "mcp.method.name",
    "session_id": "mcp.session.id",
    "protocol_version": "mcp.protocol.version",
    "tool": "gen_ai.tool.name",
    "task.id": "mcp.task.id",
    "task.status": "mcp.task.status",
}
# Names gateways and SDKs set besides the primary one, tried in this order.
BUILTIN_ALIASES = {
    "mcp.client.id": ("oauth.client_id", "client_id"),
    "gen_ai.tool.name": ("mcp.tool.name",),
    "mcp.session.id": ("mcp.session_id",),
}
# Read already (as a primary, a fallback or a kept attribute): an Admin cannot re-map them.
_RESERVED = (
    MAPPED
    | URLS
    | frozenset(KEPT)
    | frozenset(name for names in BUILTIN_ALIASES.values() for name in names)
)

MAX_NAMES_PER_FIELD = 10
MAX_ATTRIBUTE_NAME = 256
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/@-]*$")


class MappingError(ValueError):
    """An attribute mapping an Admin entered is not valid (`field` says where)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def validate_mapping(mapping) -> dict[str, list[str]]:
    """An Admin's per-source mapping {canonical field: [attribute, ...]}, checked and cleaned."""
    if not isinstance(mapping, dict):
        raise MappingError("mapping", "must be an object {canonical field: [attribute names]}")
    cleaned, seen = {}, {}
    for field, names in mapping.items():
        if field not in FIELDS:
            raise MappingError(field, f"is not a mappable field; use one of {', '.join(FIELDS)}")
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names or len(names) > MAX_NAMES_PER_FIELD:
            raise MappingError(field, f"needs 1 to {MAX_NAMES_PER_FIELD} attribute names")
        for name in names:
            _check_name(field, name, seen)
        cleaned[field] = list(dict.fromkeys(names))
    return cleaned


def _check_name(field: str, name, seen: dict) -> None:
    if (
        not isinstance(name, str)
        or not name
        or len(name) > MAX_ATTRIBUTE_NAME
        or not _ATTRIBUTE_NAME.match(name)
    ):
        raise MappingError(field, f"{str(name)[:60]!r} is not an attribute name")
    if name in _RESERVED:
        raise MappingError(field, f"{name!r} is read by the console already")
    if seen.setdefault(name, field) != field:
        raise MappingError(field, f"{name!r} is mapped to {seen[name]} already")


def aliases_for(mapping: dict | None) -> dict[str, tuple[str, ...]]:
    """Primary attribute -> the names to try after it: the built-in ones, then the source's."""
    if not mapping:
        return BUILTIN_ALIASES
    out = dict(BUILTIN_ALIASES)
    for field, names in mapping.items():
        primary = FIELDS.get(field)
        if primary and isinstance(names, list):
            out[primary] = out.get(primary, ()) + tuple(n for n in names if isinstance(n, str))
    return out


def take(attrs: dict, aliases: dict) -> dict:
    """Remove the mapped attributes from `attrs` and return them validated. An alias is read only
    when its primary attribute is absent or empty, and then leaves `attrs` in its stead."""
    sent = {}  # primary -> the alias it was read from, so a refusal names what was sent
    for primary, names in aliases.items():
        if attrs.get(primary) in (None, ""):
            for name in names:
                if attrs.get(name) not in (None, ""):
                    attrs[primary], sent[primary] = attrs.pop(name), name
                    break
    found = {}
    for key in MAPPED.intersection(attrs):
        value = attrs.pop(key)
        if value is None or value == "":
            continue
        label = sent.get(key, key)
        found[key] = _number(label, value) if key in NUMBER else _text(label, value, TEXT[key])
    for key in URLS.intersection(attrs):
        if is_http_url(attrs[key]):
            found[key] = attrs.pop(key)
    for key in KEPT.keys() & attrs.keys():
        if attrs[key] not in (None, ""):
            found[key] = _text(key, attrs[key], KEPT[key])
    return found


def is_http_url(value) -> bool:
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS:
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _text(key: str, value, limit: int) -> str:
    if isinstance(value, (dict, list)):
        raise Unmappable(f"{key}: expected a string, got {type(value).__name__}")
    value = value if isinstance(value, str) else str(value)
    if len(value) > limit:
        raise Unmappable(f"{key}: longer than {limit} characters")
    return value


def _number(key: str, value) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Unmappable(f"{key}: expected a number")
    try:
        number = float(value)
    except ValueError:
        raise Unmappable(f"{key}: expected a number, got {str(value)[:40]!r}") from None
    return int(number) if number.is_integer() else number


def parse_mapping_text(text: str) -> dict[str, list[str]]:
    """The console's form: one `field = attribute, attribute` per line; `#` starts a comment."""
    mapping: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        field, equals, names = line.partition("=")
        field = field.strip()
        if not equals or not field:
            raise MappingError(f"line {number}", "expected 'field = attribute, attribute'")
        if field in mapping:
            raise MappingError(field, f"appears twice (line {number})")
        mapping[field] = [name.strip() for name in names.split(",") if name.strip()]
    return mapping


def mapping_text(mapping: dict) -> str:
    """A stored mapping in the form's line format."""
    return "\n".join(f"{field} = {', '.join(names)}" for field, names in (mapping or {}).items())
