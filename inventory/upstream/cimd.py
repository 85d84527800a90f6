"""Client ID metadata documents: fetch one client_id URL's document.

No redirects (CIMD forbids them), at most CIMD_MAX_BYTES, within DISCOVERY_FETCH_TIMEOUT. A body
that is not JSON is still returned (the raw bytes are kept as an invalid version). Plain data
out; `inventory/services/cimd.py` validates, stores and flags.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from inventory.upstream.json_fetch import InvalidJson, discovery_timeouts, fetch_json


@dataclass
class Document:
    """One fetched document: `document` is None and `json_error` says why when not JSON."""

    raw: bytes
    document: object
    max_age: int | None
    json_error: str = ""


def fetch_document(url: str, *, log_sink=None) -> Document:
    """The document at a client_id URL; FetchError when there is none to read."""
    try:
        found = fetch_json(
            url,
            purpose="cimd",
            timeouts=discovery_timeouts(),
            max_bytes=settings.CIMD_MAX_BYTES,
            max_redirects=0,
            log_sink=log_sink,
        )
    except InvalidJson as exc:
        return Document(exc.raw, None, exc.max_age, json_error=exc.message)
    return Document(found.raw, found.document, found.max_age)
