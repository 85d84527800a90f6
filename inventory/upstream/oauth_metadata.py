"""OAuth metadata of MCP servers: RFC 9728 Protected Resource Metadata and the RFC 8414 / OpenID
authorization server metadata it points to.

For an MCP endpoint: an unauthenticated MCP request, whose 401 `WWW-Authenticate` may name the
PRM (RFC 9728 §5.1); else the well-known PRM paths in the MCP spec's order (path-inserted, then
root). For an issuer: the metadata URLs in the MCP spec's order (§4.2 step 4). Plain dicts out;
`inventory/services/oauth_metadata.py` judges and stores them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from inventory.fetch import FetchError, safe_fetch
from inventory.upstream.json_fetch import discovery_timeouts, fetch_json

METADATA_MAX_BYTES = 64_000
_PARAM = re.compile(r'([A-Za-z_][\w-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)')
_PROBE_BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "mcp-governance-console", "version": "discovery"},
        },
    }
).encode()


@dataclass
class PrmLookup:
    """What discovery found for one MCP endpoint (document None when no candidate answered)."""

    document: dict | None
    url: str = ""
    via: str = ""
    challenge: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass
class AsMetadataLookup:
    """What discovery found for one issuer (document None when no candidate answered)."""

    document: dict | None
    url: str = ""
    errors: list[str] = field(default_factory=list)


def parse_www_authenticate(value: str | None) -> dict[str, str]:
    """Auth-params (resource_metadata, scope, error...) of a Bearer challenge, lower-case names."""
    if not value:
        return {}
    return {
        name.lower(): raw[1:-1].replace('\\"', '"') if raw.startswith('"') else raw
        for name, raw in _PARAM.findall(value)
    }


def _split(url: str):
    """urlsplit, or None when the URL does not parse (urlsplit raises ValueError on a bad
    bracketed host or port)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    return parts


def prm_candidates(url: str) -> list[tuple[str, str]]:
    """Well-known PRM URLs for an MCP endpoint, in the order clients must try them ([] for a
    URL that does not parse: a remote's or issuer's URL is someone else's input)."""
    parts = _split(url)
    if parts is None:
        return []
    base, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    found = (
        [(f"{base}/.well-known/oauth-protected-resource{path}", "well-known-path")] if path else []
    )
    return found + [(f"{base}/.well-known/oauth-protected-resource", "well-known-root")]


def as_metadata_candidates(issuer: str) -> list[str]:
    """RFC 8414 / OIDC discovery URLs for an issuer, in the MCP spec's order."""
    parts = _split(issuer)
    if parts is None:  # e.g. a PRM naming "https://[not-an-ip]/": nothing to fetch
        return []
    base, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    if path:
        return [
            f"{base}/.well-known/oauth-authorization-server{path}",
            f"{base}/.well-known/openid-configuration{path}",
            f"{base}{path}/.well-known/openid-configuration",
        ]
    return [
        f"{base}/.well-known/oauth-authorization-server",
        f"{base}/.well-known/openid-configuration",
    ]


def get_metadata(url: str, purpose: str) -> dict:
    """One metadata document; FetchError unless it is a JSON object."""
    document = fetch_json(
        url,
        purpose=purpose,
        timeouts=discovery_timeouts(),
        max_bytes=METADATA_MAX_BYTES,
        max_redirects=2,
    ).document
    if not isinstance(document, dict):
        raise FetchError("invalid_json", "metadata must be a JSON object")
    return document


def probe_challenge(url: str) -> dict:
    """An unauthenticated MCP initialize; the 401 challenge's parameters (and the status)."""
    limits = discovery_timeouts()
    try:
        result = safe_fetch(
            url,
            purpose="prm",
            method="POST",
            body=_PROBE_BODY,
            accept=("*/*",),
            max_redirects=0,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
            allow_status=(200, 201, 202, 204, 400, 401, 403, 404, 405, 406),
            max_bytes=METADATA_MAX_BYTES,
            connect_timeout=limits.connect,
            read_timeout=limits.read,
            total_timeout=limits.total,
        )
    except FetchError as exc:
        return {"status": exc.status, "error": exc.message}
    return {
        "status": result.status_code,
        **parse_www_authenticate(result.headers.get("www-authenticate")),
    }


def find_prm(url: str) -> PrmLookup:
    """The PRM of an MCP endpoint URL: the challenge's pointer first, then the well-known URLs."""
    challenge = probe_challenge(url)
    candidates = prm_candidates(url)
    if challenge.get("resource_metadata"):
        candidates.insert(0, (challenge["resource_metadata"], "www-authenticate"))
    errors = [] if candidates else [f"{url[:300]}: invalid_url: not a valid URL"]
    for candidate, via in candidates:
        try:
            return PrmLookup(get_metadata(candidate, "prm"), candidate, via, challenge, errors)
        except FetchError as exc:
            errors.append(f"{candidate}: {exc.reason}: {exc.message}"[:300])
    return PrmLookup(None, challenge=challenge, errors=errors)


def find_as_metadata(issuer: str) -> AsMetadataLookup:
    """The authorization server metadata of an issuer, from the first candidate URL that has it."""
    candidates = as_metadata_candidates(issuer)
    errors = [] if candidates else [f"{issuer[:300]}: invalid_url: not a valid URL"]
    for candidate in candidates:
        try:
            return AsMetadataLookup(get_metadata(candidate, "as_metadata"), candidate, errors)
        except FetchError as exc:
            errors.append(f"{candidate}: {exc.reason}: {exc.message}"[:300])
    return AsMetadataLookup(None, errors=errors)
