"""Validating and normalising one canonical event, in plain Python (the hot path).

A DRF serializer per event costs ~20x more (see docs/performance.md), so this is hand-written:
a few type checks per field, errors keyed by the field's dotted name, unknown top-level fields
moved into `attributes`. Length limits follow the inventory columns the event feeds, so a valid
event can never fail later in the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

from audit.services import redaction
from audit.services.exact_json import dumps as _dumps
from audit.services.protocol_extract import extract_protocol_reports
from audit.services.tasks_extract import TASK_PROTOCOL_VERSION_MAX, extract_task_reports

OUTCOMES = ("success", "error", "denied")
ACTOR_KINDS = {
    "human": "human",
    "user": "human",
    "service": "service",
    "service_account": "service",
    "workload": "service",
    "agent": "agent",
}

TOP_STRINGS = {
    "id": 300,
    "type": 200,
    "session_id": 300,
    "protocol_version": 50,
    "method": 100,
    "tool": 300,
}
OBJECTS = {
    "actor": {"id": 300, "type": 50, "idp": 300, "email": 300, "name": 300},
    "client": {"id": 500, "name": 300, "version": 100},
    "server": {"name": 300, "url": 1000, "version": 255},
    "grant": {"id": 300, "type": 50, "issuer": 300},
    "error": {"message": 4000},
}
SERVER_NAME_MAX = OBJECTS["server"]["name"]
SUBJECT_MAX = OBJECTS["actor"]["id"]  # inventory_identity.subject
OBJECT_FIELDS = {name: tuple(fields.items()) for name, fields in OBJECTS.items()}
TOP_STRING_FIELDS = tuple(TOP_STRINGS.items())
KNOWN = {
    *TOP_STRINGS,
    *OBJECTS,
    "time",
    "delegation",
    "task",
    "outcome",
    "duration_ms",
    "attributes",
}
MAX_DELEGATION = 20
NESTED_TOO_DEEP = "is nested too deeply to be stored (at most 255 levels)"

# The COPY column order of the staging table (audit/services/ingest.py).
STAGE_COLUMNS = (
    "ord",
    "event_id",
    "time",
    "type",
    "actor_issuer",
    "actor_subject",
    "actor_email",
    "actor_name",
    "actor_kind",
    "client_ref",
    "client_name",
    "client_version",
    "server_name",
    "server_url",
    "method",
    "tool",
    "task_id",
    "session_id",
    "outcome",
    "duration_ms",
    "grant_id",
    "grant_issuer",
    "redacted",
    "payload",
)


class Limits:
    """The per-call limits, read from settings once per batch."""

    def __init__(
        self, *, now: datetime, max_age_days: int, max_skew_seconds: int, max_event_bytes: int
    ):
        self.earliest = now - timedelta(days=max_age_days)
        self.latest = now + timedelta(seconds=max_skew_seconds)
        self.max_age_days = max_age_days
        self.max_event_bytes = max_event_bytes


def parse_time(value, field: str, errors: dict) -> datetime | None:
    """An RFC 3339 timestamp with an offset, else an error under `field`."""
    if not isinstance(value, str) or not (10 <= len(value) <= 40):
        errors[field] = "must be an RFC 3339 timestamp string, e.g. 2026-11-30T09:00:00Z"
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors[field] = "is not a valid RFC 3339 timestamp"
        return None
    if parsed.tzinfo is None:
        errors[field] = "must include a UTC offset (e.g. Z or +02:00)"
        return None
    return parsed


def _str(value, field, limit, errors) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[field] = "must be a string"
        return ""
    if len(value) > limit:
        errors[field] = f"is longer than {limit} characters"
        return ""
    return value


def _object(event, name, errors) -> dict:
    obj = event.get(name)
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        errors[name] = "must be an object"
        return {}
    for key, limit in OBJECT_FIELDS[name]:
        value = obj.get(key)
        # the common case (absent, or a short enough string) without a call
        if value is not None and (type(value) is not str or len(value) > limit):
            _str(value, f"{name}.{key}", limit, errors)
    return obj


def _check_specials(event: dict, errors: dict) -> None:
    """Fields that are not plain strings: outcome, duration, delegation, task, grant, error."""
    outcome = event.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        errors["outcome"] = f"must be one of {', '.join(OUTCOMES)}"
    duration = event.get("duration_ms")
    if duration is not None and (
        isinstance(duration, bool)
        or not isinstance(duration, (int, float))
        or not 0 <= duration < 10**12
    ):
        errors["duration_ms"] = "must be a non-negative number of milliseconds"
    delegation = event.get("delegation")
    if delegation is not None:
        if not isinstance(delegation, list) or len(delegation) > MAX_DELEGATION:
            errors["delegation"] = (
                f"must be a list of at most {MAX_DELEGATION} {{id, type}} objects"
            )
        else:
            for i, link in enumerate(delegation):
                if (
                    not isinstance(link, dict)
                    or not isinstance(link.get("id"), str)
                    or len(link["id"]) > 300
                    or not isinstance(link.get("type", ""), str)
                ):
                    errors[f"delegation[{i}]"] = "must be an object with a string id (and type)"
    attributes = event.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        errors["attributes"] = "must be an object"
    error = event.get("error")
    if (
        isinstance(error, dict)
        and error.get("code") is not None
        and (isinstance(error["code"], bool) or not isinstance(error["code"], (int, str)))
    ):
        errors["error.code"] = "must be an integer or a string"
    grant = event.get("grant")
    if isinstance(grant, dict):
        scopes = grant.get("scopes")
        if scopes is not None and (
            not isinstance(scopes, list)
            or not all(isinstance(s, str) and len(s) <= 200 for s in scopes)
        ):
            errors["grant.scopes"] = "must be a list of strings"
        if grant.get("expires_at") is not None:
            parse_time(grant["expires_at"], "grant.expires_at", errors)


@lru_cache(maxsize=4096)
def _url_host(url: str) -> str | None:
    """host[:port] of an http(s) URL, else None (server URLs repeat: parsed once each)."""
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        return parts.hostname + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return None


def _server_name(server: dict, errors: dict) -> tuple[str, str]:
    """(name, url); a server known only by URL is named after its host until a registry names it."""
    name, url = server.get("name") or "", server.get("url") or ""
    if not isinstance(url, str):  # already reported under server.url
        return "", ""
    if url:
        host = _url_host(url)
        if host is None:
            errors["server.url"] = "must be an http(s) URL"
            return "", ""
        if not name:
            if len(host) > SERVER_NAME_MAX:  # the name would not fit inventory_server.name
                errors["server.url"] = (
                    f"has a host longer than {SERVER_NAME_MAX} characters; send server.name"
                )
                return "", ""
            name = host
    return name, url


def normalize_event(raw, *, ordinal: int, limits: Limits):
    """(stage row, task reports, None) for a valid event, or (None, None, errors)."""
    if not isinstance(raw, dict):
        return None, None, {"event": "must be a JSON object"}
    errors: dict[str, str] = {}
    event_id = raw.get("id")
    if not isinstance(event_id, str) or not event_id.strip():
        errors["id"] = "is required: a non-empty string, unique per source"
    if not isinstance(raw.get("type"), str) or not raw.get("type"):
        errors["type"] = "is required: a string such as mcp.request"
    if "time" not in raw:
        errors["time"] = "is required: an RFC 3339 timestamp"
        when = None
    else:
        when = parse_time(raw["time"], "time", errors)
    if when is not None and not errors.get("time"):
        if when < limits.earliest:
            errors["time"] = f"is more than {limits.max_age_days} days in the past"
        elif when > limits.latest:
            errors["time"] = "is in the future (beyond the allowed clock skew)"
    for key, limit in TOP_STRING_FIELDS:
        value = raw.get(key)
        if value is not None and (type(value) is not str or len(value) > limit):
            _str(value, key, limit, errors)
    actor, client, server = (_object(raw, n, errors) for n in ("actor", "client", "server"))
    grant, _ = _object(raw, "grant", errors), _object(raw, "error", errors)
    _check_specials(raw, errors)
    server_name, server_url = _server_name(server, errors) if not errors.get("server") else ("", "")
    reports = extract_task_reports(raw, errors)
    if errors:
        return None, None, errors
    if settings.AUDIT_PROTOCOL_EXTRACTION:  # before redaction: the URLs' origins are read
        reports += extract_protocol_reports(raw)
    return _build_row(
        raw, ordinal, when, actor, client, server_name, server_url, grant, reports, limits
    )


def _canonical(raw: dict) -> dict:
    """The event as stored: known fields as sent, unknown top-level fields inside attributes."""
    if KNOWN.issuperset(raw):  # the common case: nothing to move
        return dict(raw)
    event = {k: v for k, v in raw.items() if k in KNOWN}
    extras = {k: v for k, v in raw.items() if k not in KNOWN}
    if extras:
        attributes = dict(event.get("attributes") or {})
        for key, value in extras.items():
            attributes[key if key not in attributes else f"_top.{key}"] = value
        event["attributes"] = attributes
    return event


def service_actor(actor: dict, client: dict) -> dict:
    """The actor to inventory. Machine to machine (a client id, no user: no actor id, email or
    name), the OAuth client itself is the principal, as its token's `sub` is: it becomes a
    service identity, as on the OTLP ingest. The stored event is not changed. (A client id
    longer than an identity's subject, at most 300 characters, gets no identity.)"""
    client_id = client.get("id")
    if (
        not client_id
        or actor.get("id")
        or actor.get("email")
        or actor.get("name")
        or len(client_id) > SUBJECT_MAX
    ):
        return actor
    return {**actor, "id": client_id, "type": "service", "name": client.get("name")}


def _build_row(raw, ordinal, when, actor, client, server_name, server_url, grant, reports, limits):
    event = _canonical(raw)
    # Unwritable: too deep or a lone surrogate (orjson.JSONEncodeError is a TypeError; the copy
    # made to write integers beyond 64 bits raises RecursionError).
    try:
        text = _dumps(event)
    except RecursionError:
        return None, None, {"event": NESTED_TOO_DEEP}
    except (TypeError, ValueError) as exc:
        if "ecursion" in str(exc):  # orjson's "Recursion limit reached" (255 levels)
            return None, None, {"event": NESTED_TOO_DEEP}
        return None, None, {"event": f"cannot be stored as JSON: {exc}"}
    if len(text) > limits.max_event_bytes:
        return None, None, {"event": f"is larger than {limits.max_event_bytes} bytes"}
    if b"\\u0000" in text:
        return None, None, {"event": "contains a NUL character (\\u0000), which cannot be stored"}
    decoded = text.decode()
    redacted = False
    if redaction.may_need_redaction(text):
        notes = redaction.redact(event)
        if notes:
            redacted = True
            event["redactions"] = notes
            decoded = _dumps(event).decode()
            actor, client = event.get("actor") or {}, event.get("client") or {}
            grant = event.get("grant") or {}
            if server_url:
                server_url = (event.get("server") or {}).get("url") or server_url
    actor = service_actor(actor, client)
    kind = ACTOR_KINDS.get((actor.get("type") or "").lower(), "")
    duration = raw.get("duration_ms")
    row = (
        ordinal,
        raw["id"],
        when,
        raw["type"],
        actor.get("idp") or "",
        actor.get("id") or "",
        actor.get("email") or "",
        actor.get("name") or "",
        kind,
        client.get("id") or "",
        client.get("name") or "",
        client.get("version") or "",
        server_name,
        server_url,
        raw.get("method") or "",
        raw.get("tool") or "",
        reports[0]["task_id"] if reports and "kind" not in reports[0] else "",
        raw.get("session_id") or "",
        raw.get("outcome") or "",
        float(duration) if duration is not None else None,
        grant.get("id") or "",
        grant.get("issuer") or actor.get("idp") or "",
        redacted,
        decoded,
    )
    context = report_context(row, raw.get("protocol_version"))
    for report in reports:
        report.update(context)
    return row, reports, None


def report_context(row: tuple, protocol_version) -> dict:
    """What a task or protocol report needs of its event, from the event's stage row."""
    return dict(
        ordinal=row[0],
        time=row[2],
        event_id=row[1],
        server_name=row[12],
        client_ref=row[9],
        actor_issuer=row[4],
        actor_subject=row[5],
        grant_id=row[20],
        grant_issuer=row[21],
        session_id=row[17],
        method=row[14],
        tool=row[15],
        protocol_version=(protocol_version or "")[:TASK_PROTOCOL_VERSION_MAX],
    )
