"""Reading MCP protocol features out of an event, in both protocol revisions (issue 15).

Gateways forward the raw JSON-RPC shapes in `attributes.params` / `attributes.result` (OTLP:
the `mcp.request.params` / `mcp.response.result` attributes, docs/otlp.md) and the error in
`error` (`code`, `data`). What is read:
- 2025-11-25 `initialize`: params {protocolVersion, capabilities, clientInfo}, result
  {protocolVersion, capabilities, serverInfo};
- 2026-07-28 (no initialize): any request's `params._meta` `io.modelcontextprotocol/
  protocolVersion|clientCapabilities|clientInfo`, a result's `_meta` `…/serverInfo`, and
  `server/discover`'s result {capabilities, serverInfo, supportedVersions};
- URL-mode elicitations: `elicitation/create` with mode "url", the -32042 error's
  `data.elicitations`, `notifications/elicitation/complete`, and 2026-07-28 input-required
  results (`result.inputRequests`) asking for one;
- `sampling/createMessage` offering `tools` (names and `toolChoice`), both revisions.

Everything here is best effort over free-form attributes: an odd shape (capabilities that are
not an object, a huge extension map, a URL with credentials) is normalised, capped or ignored,
never a reason to reject the event. Only a URL's origin leaves this module.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import orjson

from inventory.remote_urls import url_origin

PROTOCOL_METHODS = frozenset(
    {
        "initialize",
        "server/discover",
        "elicitation/create",
        "notifications/elicitation/complete",
        "sampling/createMessage",
    }
)
URL_ELICITATION_REQUIRED = -32042
# Events of an older revision carry no request metadata to read (2026-07-28 introduced it): the
# fast path does not search their attributes (audit/services/fast_validation.py).
SEARCHED_REVISIONS = "2026-07-28"
META = "io.modelcontextprotocol/"
# What a peer's declaration may cost in storage, whatever it sent.
MAX_CAPABILITY_KEYS = 40
MAX_NESTED_KEYS = 20
MAX_KEY_CHARS = 100
MAX_CAPABILITIES_BYTES = 8192
MAX_EXTENSIONS = 50
MAX_EXTENSION_CHARS = 200
MAX_TOOLS = 100
MAX_TOOL_CHARS = 128
MAX_ELICITATIONS = 20
INFO_FIELDS = (("name", 300), ("version", 255), ("title", 300), ("websiteUrl", 1000))
CLIENT_FLAGS = ("sampling", "sampling_tools", "elicitation_url")


def may_carry(method: str, attributes, error) -> bool:
    """The cheap test run on every event: could it carry anything this module reads?"""
    if method in PROTOCOL_METHODS:
        return True
    if isinstance(error, dict) and error.get("code") in (URL_ELICITATION_REQUIRED, "-32042"):
        return True
    if not isinstance(attributes, dict):
        return False
    params, result = attributes.get("params"), attributes.get("result")
    return (isinstance(params, dict) and isinstance(params.get("_meta"), dict)) or (
        isinstance(result, dict)
        and (isinstance(result.get("_meta"), dict) or "inputRequests" in result)
    )


def _text(value, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _shape(value, depth: int):
    """A capability value kept to its structure: objects keep (capped) keys, leaves -> true."""
    if not isinstance(value, dict):
        return True
    if depth >= 3:
        return {}
    keys = [k for k in value if isinstance(k, str)][:MAX_NESTED_KEYS]
    return {k[:MAX_KEY_CHARS]: _shape(value[k], depth + 1) for k in keys}


def capabilities_of(raw) -> tuple[dict, bool, list[str], int]:
    """(normalised capabilities, whether they were invalid, extension names, names dropped)."""
    if raw is None:
        return {}, False, [], 0
    if not isinstance(raw, dict):
        return {}, True, [], 0
    extensions, dropped = extension_names(raw.get("extensions"))
    keys = [k for k in raw if k != "extensions"][:MAX_CAPABILITY_KEYS]
    caps = {k[:MAX_KEY_CHARS]: _shape(raw[k], 1) for k in keys}
    if len(orjson.dumps(caps)) > MAX_CAPABILITIES_BYTES:  # wide and deep: keep the top level
        caps = {k: {} if isinstance(v, dict) else v for k, v in caps.items()}
    return caps, False, extensions, dropped


def extension_names(raw) -> tuple[list[str], int]:
    """Extension ids from a map (2026-07-28) or a list of names; (kept, how many dropped)."""
    if isinstance(raw, dict):
        names = list(raw)
    elif isinstance(raw, list):
        names = raw
    else:
        return [], 0
    valid = [n for n in names if isinstance(n, str) and 0 < len(n) <= MAX_EXTENSION_CHARS]
    kept = sorted(set(valid))[:MAX_EXTENSIONS]
    return kept, len(names) - len(kept)


def client_flags(caps: dict) -> dict:
    """The client capabilities the list filters and flags ask about."""
    sampling, elicitation = caps.get("sampling"), caps.get("elicitation")
    return {
        "sampling": "sampling" in caps,
        "sampling_tools": isinstance(sampling, dict) and "tools" in sampling,
        "elicitation_url": isinstance(elicitation, dict) and "url" in elicitation,
    }


def info_of(raw) -> dict:
    info = _dict(raw)
    out = {key: _text(info.get(key), limit) for key, limit in INFO_FIELDS}
    out["websiteUrl"] = _website(out["websiteUrl"])
    return out


def _website(url: str) -> str:
    """A website URL without userinfo, query or fragment (it is shown on pages)."""
    origin, _, _ = url_origin(url)
    if not origin:
        return ""
    try:
        path = urlsplit(url).path
    except ValueError:
        return origin
    return (origin + path)[:1000]


def _hash(*parts) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _peer(role: str, capabilities, info, version: str) -> dict | None:
    if capabilities is None and info is None:
        return None
    caps, invalid, extensions, dropped = capabilities_of(capabilities)
    info = info_of(info)
    report = {
        "kind": "peer",
        "role": role,
        "capabilities": caps,
        "capabilities_invalid": invalid,
        "extensions": extensions,
        "extensions_dropped": dropped,
        "info_name": info["name"],
        "info_version": info["version"],
        "info_title": info["title"],
        "info_website": info["websiteUrl"],
        "revision": version,
        "hash": _hash(caps, invalid, extensions, info, version),
    }
    report.update(client_flags(caps) if role == "client" else dict.fromkeys(CLIENT_FLAGS, False))
    return report


def _elicitation(params: dict, phase: str, index: int, action: str = "") -> dict | None:
    if phase != "complete" and params.get("mode") != "url":
        return None
    origin, had_credentials, rest = url_origin(params.get("url"))
    return {
        "kind": "elicitation",
        "phase": phase,
        "item": index,
        "elicitation_id": _text(params.get("elicitationId"), 300),
        "origin": origin,
        "had_credentials": had_credentials,
        "redacted": rest,
        "action": action,
    }


def _sampling(params: dict) -> dict | None:
    tools = params.get("tools")
    tools = tools if isinstance(tools, list) else []  # plain sampling is recorded too (flags)
    names = [_text(t.get("name"), MAX_TOOL_CHARS) for t in tools[:MAX_TOOLS] if isinstance(t, dict)]
    choice = params.get("toolChoice")
    if isinstance(choice, dict):
        choice = choice.get("mode") or choice.get("type") or ""
    return {
        "kind": "sampling",
        "tools": [n for n in names if n],
        "tool_count": len(tools),
        "tool_choice": _text(choice, 50),
    }


def _sessions_and_peers(method: str, params: dict, result: dict, version: str) -> list[dict]:
    reports = []
    meta, result_meta = _dict(params.get("_meta")), _dict(result.get("_meta"))
    if method == "initialize":
        offered = _text(params.get("protocolVersion"), 50)
        negotiated = _text(result.get("protocolVersion"), 50)
        reports.append(_peer("client", params.get("capabilities"), params.get("clientInfo"), ""))
        if result:
            reports.append(
                _peer("server", result.get("capabilities"), result.get("serverInfo"), negotiated)
            )
        reports.append({"kind": "session", "offered": offered, "negotiated": negotiated})
    elif meta.get(META + "protocolVersion") or meta.get(META + "clientCapabilities"):
        revision = _text(meta.get(META + "protocolVersion"), 50) or version
        reports.append(
            _peer(
                "client",
                meta.get(META + "clientCapabilities"),
                meta.get(META + "clientInfo"),
                revision,
            )
        )
        reports.append({"kind": "session", "offered": revision, "negotiated": revision})
    if method == "server/discover" and result:
        reports.append(
            _peer("server", result.get("capabilities"), result.get("serverInfo"), version)
        )
    elif result_meta.get(META + "serverInfo") is not None and method != "initialize":
        reports.append(_peer("server", None, result_meta.get(META + "serverInfo"), version))
    return [r for r in reports if r]


def _elicitations(method: str, params: dict, result: dict, error: dict) -> list[dict]:
    found = []
    if method == "elicitation/create":
        found.append(_elicitation(params, "request", 0, _text(result.get("action"), 20)))
    elif method == "notifications/elicitation/complete":
        found.append(_elicitation(params, "complete", 0))
    if error.get("code") in (URL_ELICITATION_REQUIRED, "-32042"):
        listed = _dict(error.get("data")).get("elicitations")
        for i, item in enumerate(listed[:MAX_ELICITATIONS] if isinstance(listed, list) else []):
            found.append(_elicitation(_dict(item), "required", i + 1))
    requests = result.get("inputRequests")  # 2026-07-28 MRTR: a map (or list) of requests
    items = list(requests.values()) if isinstance(requests, dict) else requests
    for i, item in enumerate(items[:MAX_ELICITATIONS] if isinstance(items, list) else []):
        item = _dict(item)
        if item.get("method") == "elicitation/create":
            found.append(_elicitation(_dict(item.get("params")), "request", 100 + i))
        elif item.get("method") == "sampling/createMessage":
            found.append(_sampling(_dict(item.get("params"))))
    return found


def extract_protocol_reports(event: dict) -> list[dict]:
    """The protocol reports (dicts with `kind`) an event carries; [] for most events."""
    method = event.get("method") if isinstance(event.get("method"), str) else ""
    attributes = event.get("attributes")
    # The error as forwarded in attributes (OTLP's mcp.response.error) completes the event's.
    forwarded = _dict(attributes.get("error")) if isinstance(attributes, dict) else {}
    error = {**forwarded, **_dict(event.get("error"))} if forwarded else _dict(event.get("error"))
    if forwarded and not error.get("data"):
        error["data"] = forwarded.get("data")
    if forwarded.get("code") == URL_ELICITATION_REQUIRED:
        error["code"] = URL_ELICITATION_REQUIRED
    if not may_carry(method, attributes, error):
        return []
    attributes = _dict(attributes)
    params, result = _dict(attributes.get("params")), _dict(attributes.get("result"))
    version = _text(event.get("protocol_version"), 50)
    reports = _sessions_and_peers(method, params, result, version)
    reports += _elicitations(method, params, result, error)
    if method == "sampling/createMessage":
        reports.append(_sampling(params))
    return [r for r in reports if r]
