"""OTLP/HTTP receivers: POST /v1/traces and POST /v1/logs.

An OpenTelemetry SDK or Collector exports here with an event source's bearer token. The reply
follows the OTLP/HTTP specification: the Export*ServiceResponse in the request's own encoding,
with partial_success counting every span or log record that did not become an event (unmappable
here, or refused by the ingest core); failures carry a google.rpc.Status. Status codes match the
native batch API: 400 not an export request, 401 bad token, 411 chunked body we cannot read,
413 too large, 415 wrong content type or encoding, 429 over the rate limit, 503 database
unavailable (exporters retry 429 and 503). Never a 500 for any input.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from audit import otlp
from audit.http_body import BodyError, read_request_body
from audit.otlp_mapping import Mapped, map_logs, map_traces
from audit.otlp_peers import inventory_remotes
from audit.services import fast_validation
from audit.services.ingest import current_limits, ingest_events
from audit.source_auth import SourceAuthError, rate_limit_retry_after, source_from_request

log = logging.getLogger(__name__)

# Enough to diagnose a bad exporter without echoing a whole hostile batch back to it.
MAX_REPORTED_REJECTIONS = 10


@csrf_exempt
@require_POST
def traces(request):
    """Receive an ExportTraceServiceRequest."""
    # CLIENT spans name their server by address: joined to the inventory's by remote URL.
    return _export(
        request,
        otlp.TRACES,
        lambda message, mapping: map_traces(message, mapping=mapping, remotes=inventory_remotes),
    )


@csrf_exempt
@require_POST
def logs(request):
    """Receive an ExportLogsServiceRequest."""
    return _export(request, otlp.LOGS, lambda message, mapping: map_logs(message, mapping=mapping))


def _export(request, signal: otlp.Signal, mapper) -> HttpResponse:
    # Errors are answered in the request's encoding when it is one we speak, else JSON.
    content_type = request.headers.get("Content-Type")
    reply_media = otlp.PROTOBUF if (content_type or "").startswith(otlp.PROTOBUF) else otlp.JSON
    try:
        return _receive(request, signal, mapper, content_type, reply_media)
    except DatabaseError:
        # Transient by nature (failover, lock timeout): 503 makes exporters retry the batch,
        # and event ids are deterministic, so the retry cannot store anything twice.
        log.exception("OTLP %s export: database unavailable", signal.name)
        response = _status(
            reply_media, 503, otlp.GRPC_UNAVAILABLE, "Storage is unavailable; retry later."
        )
        response["Retry-After"] = "5"
        return response


def _receive(request, signal: otlp.Signal, mapper, content_type, reply_media) -> HttpResponse:
    try:
        source = source_from_request(request)
    except SourceAuthError as exc:
        response = _status(reply_media, exc.status, otlp.GRPC_UNAUTHENTICATED, exc.message)
        response["WWW-Authenticate"] = 'Bearer realm="mcp-governance-ingest"'
        return response
    retry_after = rate_limit_retry_after(source)
    if retry_after:
        response = _status(
            reply_media,
            429,
            otlp.GRPC_RESOURCE_EXHAUSTED,
            f"Rate limit exceeded; retry after {retry_after} seconds.",
        )
        response["Retry-After"] = str(retry_after)
        return response
    try:
        media = otlp.media_type(content_type)
        message = _read_request(request, signal, media)
    except BodyError as exc:
        code = otlp.GRPC_RESOURCE_EXHAUSTED if exc.status == 413 else otlp.GRPC_INVALID_ARGUMENT
        return _status(reply_media, exc.status, code, exc.message)
    mapped = mapper(message, source.otlp_attribute_map)
    limits = current_limits()
    events = fast_validation.accept_dicts(mapped.events, limits)
    core_rejected = []
    # One ingest call (one transaction) per chunk of at most the native API's batch limit: an
    # OTLP exporter cannot split a batch it was told is too large, it would only drop it.
    chunk = max(1, settings.AUDIT_MAX_EVENTS_PER_REQUEST)
    for start in range(0, len(events), chunk):
        result = ingest_events(source=source, events=events[start : start + chunk], limits=limits)
        core_rejected += [{**entry, "index": entry["index"] + start} for entry in result.rejected]
    rejected = _rejections(mapped, core_rejected)
    body = otlp.encode_response(
        signal, media, rejected=len(rejected), error_message=_summary(signal, rejected, mapped)
    )
    return HttpResponse(body, content_type=media)


def _read_request(request, signal: otlp.Signal, media: str):
    body = read_request_body(
        request, limit=settings.OTLP_MAX_BODY_BYTES, decoded_limit=settings.OTLP_MAX_DECODED_BYTES
    )
    return otlp.decode(signal, body, media)


def _rejections(mapped: Mapped, core_rejected: list[dict]) -> list[str]:
    """Our own rejections plus the ingest core's, each as one line naming the item."""
    messages = list(mapped.rejected)
    for entry in core_rejected:
        index = entry.get("index")
        label = (
            mapped.labels[index]
            if isinstance(index, int) and 0 <= index < len(mapped.labels)
            else f"event {entry.get('id')!r}"
        )
        errors = entry.get("errors") or {}
        detail = "; ".join(f"{name}: {text}" for name, text in errors.items()) or "rejected"
        messages.append(f"{label}: {detail}")
    return messages


def _summary(signal: otlp.Signal, rejected: list[str], mapped: Mapped) -> str:
    if not rejected:
        return ""
    total = len(mapped.events) + len(mapped.rejected)
    head = f"{len(rejected)} of {total} {signal.item_noun} rejected: "
    shown = "; ".join(rejected[:MAX_REPORTED_REJECTIONS])
    more = len(rejected) - MAX_REPORTED_REJECTIONS
    return head + shown + (f"; and {more} more" if more > 0 else "")


def _status(media: str, http_status: int, grpc_code: int, message: str) -> HttpResponse:
    body = otlp.encode_status(media, code=grpc_code, message=message)
    return HttpResponse(body, status=http_status, content_type=media)
