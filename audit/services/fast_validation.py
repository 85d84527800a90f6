"""The compiled fast path of event validation: plain, well-formed events never become dicts.

Most batches are events a gateway built from the same template: known fields of the right
types, no secrets, no task objects. For those, msgspec checks every type and length limit of
`validation.py` in C while splitting the body (~3 us an event, where building dicts with orjson
and checking them in Python took ~21 us), and the stage row is built from the typed result.
The stored payload is the event's JSON text exactly as sent.

The fast path only ever *accepts*. Whatever it is not sure about goes to the Python path in
`validation.py`, which decides and words the errors: a type or limit problem, an unknown
top-level field (moved into attributes there), a possible secret (redaction walks the event),
anything task-shaped (status reports), an over-size or deeply nested event, a run of more digits
than Python reads as one integer (4,300; such an event is rejected there), bytes that are not
UTF-8 (msgspec does not check the values it skips, such as `attributes`), and any `\\u` or
`\\/` escape: the secret hints are matched in the text as sent, and an escape could spell one
(`\\u0042earer`, `https:\\/\\/user:pw@`) so that only the decoded text shows it. With custom
redaction patterns configured, any backslash escape takes the Python path (they are written
against decoded text).
`tests/audit/test_ingest_fast_validation.py` checks that both paths build the same row for the same
event.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated, Literal

import msgspec
import orjson
from django.conf import settings
from msgspec import Meta, Raw, Struct

from audit.services import redaction
from audit.services.protocol_extract import (
    PROTOCOL_METHODS,
    SEARCHED_REVISIONS,
    URL_ELICITATION_REQUIRED,
    extract_protocol_reports,
)
from audit.services.validation import (
    ACTOR_KINDS,
    SERVER_NAME_MAX,
    SUBJECT_MAX,
    Limits,
    _url_host,
    parse_time,
    report_context,
)


def _text(limit: int):
    return Annotated[str, Meta(max_length=limit)]


class _Actor(Struct):
    id: _text(300) | None = None
    type: _text(50) | None = None
    idp: _text(300) | None = None
    email: _text(300) | None = None
    name: _text(300) | None = None


class _Client(Struct):
    id: _text(500) | None = None
    name: _text(300) | None = None
    version: _text(100) | None = None


class _Server(Struct):
    name: _text(300) | None = None
    url: _text(1000) | None = None
    version: _text(255) | None = None


class _Grant(Struct):
    id: _text(300) | None = None
    type: _text(50) | None = None
    issuer: _text(300) | None = None
    scopes: list[_text(200)] | None = None
    expires_at: str | None = None


class _Error(Struct):
    code: int | str | None = None
    message: _text(4000) | None = None


class _Link(Struct):
    id: _text(300)
    type: str = ""


_NULL = Raw(b"null")
_Millis = Annotated[int, Meta(ge=0, lt=10**12)] | Annotated[float, Meta(ge=0, lt=1e12)]


class _Event(Struct, forbid_unknown_fields=True):
    """The canonical event's known fields (an unknown one sends the event to the Python path)."""

    id: _text(300)
    type: Annotated[str, Meta(min_length=1, max_length=200)]
    time: Annotated[str, Meta(min_length=10, max_length=40)]
    actor: _Actor | None = None
    client: _Client | None = None
    server: _Server | None = None
    delegation: Annotated[list[_Link], Meta(max_length=20)] | None = None
    session_id: _text(300) | None = None
    protocol_version: _text(50) | None = None
    method: _text(100) | None = None
    tool: _text(300) | None = None
    task: Raw = _NULL  # never reached: an event mentioning "task" takes the Python path
    grant: _Grant | None = None
    outcome: Literal["success", "error", "denied"] | None = None
    error: _Error | None = None
    duration_ms: _Millis | None = None
    attributes: Raw = _NULL


class _Wrapped(Struct):
    events: list[Raw]


_split_array = msgspec.json.Decoder(list[Raw])
_split_wrapped = msgspec.json.Decoder(_Wrapped)
_decode_event = msgspec.json.Decoder(_Event)
# Python reads no integer of more than this many digits (a guard against quadratic-time
# conversion); the Python path rejects an event holding one, so the fast path, which would
# store it unread inside `attributes`, must not accept it. (Events this short cannot hold one.)
_INT_DIGITS = sys.get_int_max_str_digits()
_TOO_MANY_DIGITS = re.compile(rb"[0-9]{%d}" % (_INT_DIGITS + 1)) if _INT_DIGITS else None
# Opening brackets beyond this (nesting, roughly) send an event to the Python path, which
# refuses JSON nested deeper than orjson stores (255); plain events have a few dozen.
MAX_BRACKETS = 200
_NO_ACTOR, _NO_CLIENT, _NO_SERVER, _NO_GRANT = _Actor(), _Client(), _Server(), _Grant()


class FastEvent:
    """An event the fast path accepted: its raw JSON text (valid UTF-8) and typed fields."""

    __slots__ = ("raw", "event", "when", "server_name", "server_url", "protocol")

    def __init__(self, raw: bytes, event: _Event, when, server_name: str, server_url: str):
        self.raw, self.event, self.when = raw, event, when
        self.protocol = False  # may carry protocol features: read by protocol_reports()
        self.server_name, self.server_url = server_name, server_url


def split(body: bytes) -> list[bytes] | None:
    """The events of a JSON-array or {"events": [...]} body as raw JSON texts, or None when
    msgspec cannot split it (the caller's general parser then decides and explains)."""
    try:
        if body.lstrip()[:1] == b"{":
            return [bytes(raw) for raw in _split_wrapped.decode(body).events]
        return [bytes(raw) for raw in _split_array.decode(body)]
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None


def accept(raw: bytes, limits: Limits) -> FastEvent | None:
    """A FastEvent when the event is certainly valid, plain and secret-free; else None."""
    if (
        len(raw) > limits.max_event_bytes
        or b'"task' in raw
        or raw.count(b"{") + raw.count(b"[") > MAX_BRACKETS
    ):
        return None
    if len(raw) > _INT_DIGITS and _TOO_MANY_DIGITS and _TOO_MANY_DIGITS.search(raw):
        return None
    # (one-byte search first: two-byte ones cost ~1 us each on a 1 KB event)
    if b"\\" in raw and (b"\\u" in raw or b"\\/" in raw or redaction.has_custom_patterns()):
        return None
    # msgspec skips what it does not type (`attributes`, unknown keys of actor, error, ...)
    # without checking its UTF-8: such an event goes to the Python path, which refuses it.
    # (Checked, not kept: a decoded copy of every event held beside the raw ones during the
    # parse raised a 16 MB request's peak RSS from 149 to 160 MB; ASCII needs no decode.)
    if not raw.isascii():
        try:
            raw.decode()
        except UnicodeDecodeError:
            return None
    try:
        event = _decode_event.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    if not event.id.strip():
        return None
    method = event.method or ""
    if method.startswith(("tasks/", "notifications/tasks")):
        return None
    attributes = bytes(event.attributes)
    if attributes != b"null" and attributes[:1] != b"{":
        return None
    errors: dict = {}
    when = parse_time(event.time, "time", errors)
    if when is None or not limits.earliest <= when <= limits.latest:
        return None
    grant = event.grant
    if (
        grant is not None
        and grant.expires_at is not None
        and parse_time(grant.expires_at, "grant.expires_at", errors) is None
    ):
        return None
    if event.error is not None and isinstance(event.error.code, bool):
        return None
    server = event.server or _NO_SERVER
    name, url = server.name or "", server.url or ""
    if url:
        host = _url_host(url)
        if host is None or (not name and len(host) > SERVER_NAME_MAX):
            return None
        name = name or host
    if redaction.may_need_redaction(raw):
        return None
    fast = FastEvent(raw, event, when, name, url)
    fast.protocol = settings.AUDIT_PROTOCOL_EXTRACTION and _protocol_shaped(
        method, event, attributes
    )
    return fast


def _protocol_shaped(method: str, event: _Event, attributes: bytes) -> bool:
    """protocol_extract.may_carry on the typed event, with the attributes' text searched only
    for an event that may be 2026-07-28 (its protocol_version says so, or it has none): most
    traffic is not, and three searches of a 500-byte text cost ~1 us an event."""
    if method in PROTOCOL_METHODS:
        return True
    if event.error is not None and event.error.code in (URL_ELICITATION_REQUIRED, "-32042"):
        return True
    version = event.protocol_version
    if attributes == b"null" or (version and version < SEARCHED_REVISIONS):
        return False
    return b'"_meta"' in attributes or b'"inputRequests"' in attributes or b"-32042" in attributes


def accept_dicts(events: list, limits: Limits) -> list:
    """Events built in Python (the OTLP mapping): each plain one as a FastEvent over its JSON
    text (what the Python path would store), the others unchanged for the Python checks."""
    out = []
    for event in events:
        try:
            raw = orjson.dumps(event)
        except (orjson.JSONEncodeError, TypeError):
            out.append(event)
            continue
        out.append(accept(raw, limits) or event)
    return out


def protocol_reports(fast: FastEvent, row: tuple) -> list[dict]:
    """The protocol reports of a plain event that may carry some (an initialize, a URL
    elicitation...): read from its JSON, which the fast path already found valid and
    secret-free, so it needs none of the Python path's checks."""
    reports = extract_protocol_reports(orjson.loads(fast.raw))
    if reports:
        context = report_context(row, fast.event.protocol_version)
        for report in reports:
            report.update(context)
    return reports


def stage_row(fast: FastEvent, ordinal: int) -> tuple:
    """The stage row (validation.STAGE_COLUMNS order) the Python path builds for this event."""
    event = fast.event
    actor, client = event.actor or _NO_ACTOR, event.client or _NO_CLIENT
    if (
        client.id and not (actor.id or actor.email or actor.name) and len(client.id) <= SUBJECT_MAX
    ):  # machine to machine: validation.service_actor
        actor = _Actor(id=client.id, type="service", idp=actor.idp, name=client.name)
    grant = event.grant or _NO_GRANT
    duration = event.duration_ms
    return (
        ordinal,
        event.id,
        fast.when,
        event.type,
        actor.idp or "",
        actor.id or "",
        actor.email or "",
        actor.name or "",
        ACTOR_KINDS.get((actor.type or "").lower(), ""),
        client.id or "",
        client.name or "",
        client.version or "",
        fast.server_name,
        fast.server_url,
        event.method or "",
        event.tool or "",
        "",
        event.session_id or "",
        event.outcome or "",
        float(duration) if duration is not None else None,
        grant.id or "",
        grant.issuer or actor.idp or "",
        False,
        fast.raw.decode(),
    )
