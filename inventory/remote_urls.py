"""Server URLs are stored without userinfo (`user:password@`), noting that it was there.

Why: a remote URL reported with credentials is a secret we must not keep, and the ingest's
redaction turns it into `https://[REDACTED:password_in_url]@host/...`, which no URL parser
accepts (the brackets read as an IPv6 literal): a stored URL must stay usable by every crawler
and page. So every path that stores a server URL (event-derived inventory, registry crawls,
the admin/demo upserts) drops the userinfo at the door, and the row says that it had some.

The authority ends at the first `/`, `?` or `#`; the userinfo is everything before its *last*
`@` (WHATWG URL parsing), so a raw `@` inside a password cannot leave part of it behind.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# One definition for Python and for the set-based SQL in inventory/services/derive.py
# (PostgreSQL's ARE syntax accepts the same expression).
USERINFO_PATTERN = r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@"
_USERINFO = re.compile(USERINFO_PATTERN)


def strip_userinfo(url: str) -> tuple[str, bool]:
    """(the URL without `user:password@`, whether it had one)."""
    stripped, count = _USERINFO.subn(r"\1", url, count=1)
    return stripped, bool(count)


def strip_userinfo_everywhere(document):
    """A copy of a JSON document (a registry's server.json) with `user:password@` removed from
    every string that is a URL carrying one; the document itself when none does."""
    if isinstance(document, dict):
        items = {key: strip_userinfo_everywhere(value) for key, value in document.items()}
        changed = any(items[key] is not document[key] for key in document)
        return items if changed else document
    if isinstance(document, list):
        items = [strip_userinfo_everywhere(value) for value in document]
        return items if any(a is not b for a, b in zip(items, document)) else document
    if isinstance(document, str) and _USERINFO.match(document):
        return strip_userinfo(document)[0]
    return document


def url_origin(url) -> tuple[str, bool, bool]:
    """(scheme://host[:port] lower-cased, the URL had userinfo, it had more than its origin)."""
    if not isinstance(url, str) or not url:
        return "", False, False
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return "", "@" in url, True
    scheme = parts.scheme.lower()
    if not scheme or not host or any(c in host for c in "@/?#[] "):
        return "", "@" in url, True
    default = {"https": 443, "http": 80}.get(scheme)
    if ":" in host:
        host = f"[{host}]"
    origin = f"{scheme}://{host}" + (f":{port}" if port and port != default else "")
    had_credentials = parts.username is not None or parts.password is not None
    rest = bool(parts.path not in ("", "/") or parts.query or parts.fragment)
    return origin[:300], had_credentials, rest
