"""The native ingest endpoint `POST /api/v1/events` and its schema.

A plain function view, not DRF: it authenticates with a source token (not a user), and the
per-request overhead is the bound for one-event requests (see docs/performance.md).
Status codes: 200 with per-event results, 400 unparseable body, 401 token, 411 chunked body
under a server that cannot de-chunk it, 413 too large,
415 media type or encoding, 429 rate limit, 503 database unavailable. Never a 500.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import orjson
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from audit.http_body import BodyError, read_request_body
from audit.ingest_parse import NDJSON_TYPES
from audit.ingest_parse import parse as _parse  # (the benchmarks call it by this name)
from audit.services.ingest import current_limits, ingest_events
from audit.services.validation import Limits
from audit.source_auth import SourceAuthError, rate_limit_retry_after, source_from_request

log = logging.getLogger(__name__)
SCHEMA_PATH = Path(__file__).with_name("event_schema.json")
JSON_TYPES = {"application/json"}


def _json(data, status=200, headers=None) -> HttpResponse:
    try:
        content = orjson.dumps(data)
    except orjson.JSONEncodeError:
        # Never expected (echoed ids are made writable), but the batch may already be
        # committed: the answer must still go out and say so. ASCII escapes write anything.
        log.exception("ingest: answer not writable by orjson")
        content = json.dumps(data, default=str).encode()
    response = HttpResponse(content, status=status, content_type="application/json")
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def _ingest(source, events: list, unread: list, limits: Limits) -> dict:
    """Run the ingest on the readable events; report every index against the request body.
    `unread` holds (index, field, message) of the events that could not be read."""
    bad = {index: {field: message} for index, field, message in unread}
    positions = [i for i in range(len(events)) if i not in bad]
    result = ingest_events(source=source, events=[events[i] for i in positions], limits=limits)
    rejected = [{**r, "index": positions[r["index"]]} for r in result.rejected]
    rejected += [{"index": i, "id": None, "errors": errors} for i, errors in bad.items()]
    rejected.sort(key=lambda r: r["index"])
    return {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": rejected}


@csrf_exempt
def ingest(request):
    """POST a batch of canonical events with a source's bearer token."""
    if request.method != "POST":
        return _json({"detail": "Use POST."}, status=405, headers={"Allow": "POST"})
    try:
        source = source_from_request(request)
        retry_after = rate_limit_retry_after(source)
        if retry_after:
            return _json(
                {"detail": f"Rate limit of source {source.name!r} exceeded."},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        media_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if media_type not in JSON_TYPES | NDJSON_TYPES:
            raise BodyError(415, "Content-Type must be application/json or application/x-ndjson.")
        limits = current_limits()
        # The body is not kept in a variable: freed once parsed, it is not held (up to 16 MB)
        # through the ingest (peak RSS of a 16 MB request 150 MB; 166 MB with it kept).
        body_limit = settings.AUDIT_MAX_REQUEST_BYTES
        events, unread = _parse(
            read_request_body(request, limit=body_limit, decoded_limit=body_limit),
            media_type,
            limits,
        )
        if len(events) > settings.AUDIT_MAX_EVENTS_PER_REQUEST:
            raise BodyError(
                413,
                f"More than {settings.AUDIT_MAX_EVENTS_PER_REQUEST} events "
                "in one request; split the batch.",
            )
        return _json(_ingest(source, events, unread, limits))
    except SourceAuthError as exc:
        return _json(
            {"detail": exc.message},
            status=exc.status,
            headers={"WWW-Authenticate": 'Bearer realm="mcp-governance-ingest"'},
        )
    except BodyError as exc:
        return _json({"detail": exc.message}, status=exc.status)
    except DatabaseError:
        log.exception("ingest: database unavailable")
        return _json(
            {"detail": "Storage is unavailable; retry later."},
            status=503,
            headers={"Retry-After": "5"},
        )


def event_schema(request):
    """The canonical event's JSON Schema (public: it describes the API, holds no data)."""
    return HttpResponse(SCHEMA_PATH.read_bytes(), content_type="application/schema+json")


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())
