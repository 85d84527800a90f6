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

# One definition for Python and for the set-based SQL in inventory/services/derive.py
# (PostgreSQL's ARE syntax accepts the same expression).
USERINFO_PATTERN = r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@"
_USERINFO = re.compile(USERINFO_PATTERN)


def strip_userinfo(url: str) -> tuple[str, bool]:
    """(the URL without `user:password@`, whether it had one)."""
    stripped, count = _USERINFO.subn(r"\1", url, count=1)
    return stripped, bool(count)
