"""The one shape of a problem a check finds in an upstream document (registry entries, CIMD
documents, OAuth metadata): a dict stored with the document and shown beside it.

`{code, <where>, message, severity}`: `code` is short and stable (flags and filters key on it),
`<where>` is one location keyword (`path=` a dotted server.json path, `field=` a metadata
member), `message` never holds a secret value, and `severity` is the checking module's scale
(registry entries: high / warning; CIMD: error / warning) or None where the caller judges
severity itself (OAuth metadata, whose flags carry it).
"""

from __future__ import annotations


def problem(code: str, message: str, *, severity: str | None, **where: str) -> dict:
    """One problem, as stored: its location under the key the caller names."""
    if len(where) != 1:
        raise TypeError("name exactly one location, e.g. path=... or field=...")
    found = {"code": code, **where, "message": message}
    if severity is not None:
        found["severity"] = severity
    return found
