"""Client ID Metadata Documents: pure validation and diffing (no I/O, no database).

Rules from draft-ietf-oauth-client-id-metadata-document (-00, tightened in -01) and the MCP
2025-11-25 authorization spec: the client_id URL shape, the document's client_id equal to that
URL, the MCP minimum fields, no shared secrets, and redirect URIs that are https or loopback.
A problem is a dict {code, field, message, severity}; "error" means the document must not be
trusted (an AS must refuse it), "warning" means it is legal but risky.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
from urllib.parse import urlsplit

from inventory.fetch_policy import special_use_reason
from inventory.problems import problem
from inventory.secret_members import find_secrets

ERROR, WARNING = "error", "warning"
REQUIRED_FIELDS = ("client_id", "client_name", "redirect_uris")
# Symmetric-secret client authentication: forbidden for a document anyone can read.
SHARED_SECRET_METHODS = {"client_secret_post", "client_secret_basic", "client_secret_jwt"}
ASYMMETRIC_METHODS = {"private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"}
FORBIDDEN_FIELDS = ("client_secret", "client_secret_expires_at")
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
# URIs a consent screen or an authorization server may dereference or show; we never fetch them,
# but one on an internal address points an AS (or a user's browser) inside someone's network.
LINK_FIELDS = ("logo_uri", "jwks_uri", "client_uri", "policy_uri", "tos_uri", "initiate_login_uri")
INTERNAL_NAMES = {"metadata.google.internal", "metadata.goog"}
# Fields whose change an AS should weigh (CIMD -01 "Changes in Client Metadata").
SENSITIVE_FIELDS = (
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "scope",
    "jwks",
    "jwks_uri",
    "client_name",
    "logo_uri",
)


def validate_client_id_url(url: str) -> list[dict]:
    """Problems with the shape of a CIMD client_id URL (CIMD §3); [] when it is acceptable."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        return [
            problem("url_invalid", f"not a valid URL: {exc}", field="client_id", severity=ERROR)
        ]
    found = []
    if parts.scheme != "https":
        found.append(
            problem(
                "url_not_https",
                "the client_id URL must use https",
                field="client_id",
                severity=ERROR,
            )
        )
    if not parts.hostname:
        found.append(
            problem(
                "url_no_host", "the client_id URL has no host", field="client_id", severity=ERROR
            )
        )
    if parts.path in ("", "/"):
        found.append(
            problem(
                "url_no_path",
                "the client_id URL must contain a path (e.g. /oauth/client.json)",
                field="client_id",
                severity=ERROR,
            )
        )
    if any(seg in (".", "..") for seg in parts.path.split("/")):
        found.append(
            problem(
                "url_dot_segment",
                "the client_id URL must not contain . or .. path segments",
                field="client_id",
                severity=ERROR,
            )
        )
    if "#" in url:
        found.append(
            problem(
                "url_fragment",
                "the client_id URL must not have a fragment",
                field="client_id",
                severity=ERROR,
            )
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        found.append(
            problem(
                "url_credentials",
                "the client_id URL must not contain a username or password",
                field="client_id",
                severity=ERROR,
            )
        )
    if parts.query:
        found.append(
            problem(
                "url_query",
                "the client_id URL should not have a query string",
                field="client_id",
                severity=WARNING,
            )
        )
    return found


def _is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.lower().strip("[]")
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_origin(uri: str) -> str:
    """scheme://host[:port] of a redirect URI (what a consent screen should show)."""
    try:
        parts = urlsplit(uri)
        return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}".lower()
    except ValueError:
        return uri


def is_loopback_uri(uri: str) -> bool:
    try:
        return _is_loopback_host(urlsplit(uri).hostname)
    except ValueError:
        return False


def internal_host_reason(host: str | None) -> str | None:
    """Why a URL host is loopback, private, link-local or cloud metadata; None when it is a
    public name or address. Names are not resolved (this module does no I/O): localhost and
    the metadata names are recognised, and IP literals, including the single-number form
    (http://2130706433/ is 127.0.0.1) that browsers and many HTTP clients accept."""
    if not host:
        return None
    host = host.lower().strip("[]").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    if host in INTERNAL_NAMES:
        return "cloud metadata"
    try:
        ip = ipaddress.ip_address(int(host) if host.isdigit() else host.split("%")[0])
    except ValueError:
        return None
    return special_use_reason(ip)


def _internal_link_problems(document: dict) -> list[dict]:
    found = []
    for name in LINK_FIELDS:
        value = document.get(name)
        if not isinstance(value, str):
            continue
        try:
            why = internal_host_reason(urlsplit(value).hostname)
        except ValueError:
            continue
        if why:
            found.append(
                problem(
                    "internal_uri",
                    f"{name} {value[:300]} points at a {why} address, not a public one",
                    field=name,
                    severity=WARNING,
                )
            )
    return found


def _validate_redirect_uris(value) -> list[dict]:
    if not isinstance(value, list) or not value:
        return [
            problem(
                "redirect_uris_invalid",
                "redirect_uris must be a non-empty list of URLs",
                field="redirect_uris",
                severity=ERROR,
            )
        ]
    found = []
    for index, uri in enumerate(value):
        where = f"redirect_uris[{index}]"
        if not isinstance(uri, str) or not uri:
            found.append(
                problem(
                    "redirect_uri_invalid",
                    "a redirect URI must be a string",
                    field=where,
                    severity=ERROR,
                )
            )
            continue
        try:
            parts = urlsplit(uri)
        except ValueError:
            found.append(
                problem(
                    "redirect_uri_invalid",
                    f"{uri!r} is not a valid URL",
                    field=where,
                    severity=ERROR,
                )
            )
            continue
        if parts.fragment or "#" in uri:
            found.append(
                problem(
                    "redirect_uri_fragment",
                    f"{uri} has a fragment, which redirect URIs must not have",
                    field=where,
                    severity=ERROR,
                )
            )
        loopback = _is_loopback_host(parts.hostname)
        why = internal_host_reason(parts.hostname)
        if loopback:  # legal for native apps (RFC 8252), but anyone can listen there
            found.append(
                problem(
                    "redirect_uri_localhost",
                    f"{uri} is on localhost: any "
                    "program on the user's machine can receive the code",
                    field=where,
                    severity=WARNING,
                )
            )
        elif why:
            found.append(
                problem(
                    "internal_uri",
                    f"{uri} points at a {why} address, not a public one",
                    field=where,
                    severity=WARNING,
                )
            )
        if parts.scheme == "https" and parts.hostname:
            continue
        if parts.scheme == "http" and loopback:
            continue
        found.append(
            problem(
                "redirect_uri_scheme",
                f"{uri} is neither https nor a loopback http URI",
                field=where,
                severity=ERROR,
            )
        )
    if all(isinstance(u, str) and is_loopback_uri(u) for u in value):
        # One warning for the whole list says it better than one per URI.
        found = [p for p in found if p["code"] != "redirect_uri_localhost"]
        found.append(
            problem(
                "redirect_uris_localhost_only",
                "every redirect URI is on localhost: anyone can present this "
                "client_id with their own local redirect (impersonation risk)",
                field="redirect_uris",
                severity=WARNING,
            )
        )
    return found


def validate_document(url: str, document) -> list[dict]:
    """Problems with a fetched CIMD document served at `url`; [] when it is valid."""
    if not isinstance(document, dict):
        return [
            problem("not_an_object", "the document must be a JSON object", field="", severity=ERROR)
        ]
    found = []
    for name in REQUIRED_FIELDS:
        if name not in document or document[name] in (None, "", []):
            found.append(
                problem(
                    "missing_field", f"required field {name} is missing", field=name, severity=ERROR
                )
            )
    client_id = document.get("client_id")
    if client_id not in (None, "") and client_id != url:
        found.append(
            problem(
                "client_id_mismatch",
                f"client_id {str(client_id)[:300]!r} does not equal the document "
                f"URL {url!r} (exact string comparison)",
                field="client_id",
                severity=ERROR,
            )
        )
    if "client_name" in document and not isinstance(document["client_name"], str):
        found.append(
            problem(
                "field_type", "client_name must be a string", field="client_name", severity=ERROR
            )
        )
    for name in FORBIDDEN_FIELDS:
        if name in document:
            found.append(
                problem(
                    "client_secret_present",
                    f"{name} must not appear in a public metadata document",
                    field=name,
                    severity=ERROR,
                )
            )
    for path in find_secrets(document):
        if path not in FORBIDDEN_FIELDS:  # client_secret is reported just above
            found.append(
                problem(
                    "secret_present",
                    f"{path} holds a secret (a token or a "
                    "private key), which a public document must not publish",
                    field=path,
                    severity=ERROR,
                )
            )
    found += _internal_link_problems(document)
    found += _validate_auth_method(document)
    if "redirect_uris" in document:
        found += _validate_redirect_uris(document["redirect_uris"])
    for name in ("grant_types", "response_types"):
        if name in document and not (
            isinstance(document[name], list) and all(isinstance(v, str) for v in document[name])
        ):
            found.append(
                problem(
                    "field_type", f"{name} must be a list of strings", field=name, severity=ERROR
                )
            )
    if "jwks" in document and "jwks_uri" in document:
        found.append(
            problem(
                "jwks_both",
                "jwks and jwks_uri must not both be present",
                field="jwks",
                severity=ERROR,
            )
        )
    return found


def _validate_auth_method(document: dict) -> list[dict]:
    method = document.get("token_endpoint_auth_method", "none")
    if not isinstance(method, str):
        return [
            problem(
                "field_type", "must be a string", field="token_endpoint_auth_method", severity=ERROR
            )
        ]
    if method in SHARED_SECRET_METHODS or method.startswith("client_secret"):
        return [
            problem(
                "shared_secret_auth",
                f"{method} is a shared-secret method; a CIMD client must be public "
                "(none) or use an asymmetric method such as private_key_jwt",
                field="token_endpoint_auth_method",
                severity=ERROR,
            )
        ]
    if (
        method in ASYMMETRIC_METHODS
        and method != "tls_client_auth"
        and not (document.get("jwks") or document.get("jwks_uri"))
    ):
        return [
            problem(
                "keys_missing",
                f"{method} needs jwks or jwks_uri to verify the client",
                field="token_endpoint_auth_method",
                severity=ERROR,
            )
        ]
    if method != "none" and method not in ASYMMETRIC_METHODS:
        return [
            problem(
                "unknown_auth_method",
                f"unrecognised method {method!r}",
                field="token_endpoint_auth_method",
                severity=WARNING,
            )
        ]
    return []


def is_valid(problems: list[dict]) -> bool:
    return not any(p["severity"] == ERROR for p in problems)


# --- Diffs between two versions ------------------------------------------------------------


def diff_documents(old, new) -> list[dict]:
    """Field-level changes from `old` to `new`: added/removed/changed keys, and for list values
    the items added and removed. Each change: {field, kind, old, new}."""
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            changes.append({"field": key, "kind": "added", "old": None, "new": new[key]})
        elif key not in new:
            changes.append({"field": key, "kind": "removed", "old": old[key], "new": None})
        elif old[key] != new[key]:
            if isinstance(old[key], list) and isinstance(new[key], list):
                changes += _list_changes(key, old[key], new[key])
            else:
                changes.append({"field": key, "kind": "changed", "old": old[key], "new": new[key]})
    return changes


def _list_changes(key: str, old: list, new: list) -> list[dict]:
    canon = lambda v: json.dumps(v, sort_keys=True)  # noqa: E731 - items may be dicts
    old_keys, new_keys = [canon(v) for v in old], [canon(v) for v in new]
    changes = [
        {"field": key, "kind": "item_added", "old": None, "new": v}
        for v, k in zip(new, new_keys)
        if k not in old_keys
    ]
    changes += [
        {"field": key, "kind": "item_removed", "old": v, "new": None}
        for v, k in zip(old, old_keys)
        if k not in new_keys
    ]
    if not changes:  # same items, different order
        changes.append({"field": key, "kind": "reordered", "old": old, "new": new})
    return changes


def pretty(document) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)


def unified_diff(old, new, *, old_label="previous", new_label="current") -> str:
    """A unified text diff of the two documents as pretty, key-sorted JSON."""
    return "".join(
        difflib.unified_diff(
            pretty(old).splitlines(keepends=True) if old is not None else [],
            pretty(new).splitlines(keepends=True) if new is not None else [],
            fromfile=old_label,
            tofile=new_label,
        )
    )


def risky_changes(old: dict, new: dict, client_url: str) -> list[dict]:
    """The changes governance should hear about, as flag specs {kind, severity, summary, details}.

    Routine fields (client_name, logo_uri...) are left to the version history; these are the
    ones that change who can receive tokens or how the client proves itself.
    """
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    flags = []
    old_uris = [u for u in old.get("redirect_uris") or [] if isinstance(u, str)]
    new_uris = [u for u in new.get("redirect_uris") or [] if isinstance(u, str)]
    added = [u for u in new_uris if u not in old_uris]
    removed = [u for u in old_uris if u not in new_uris]
    if added:
        known_origins = {redirect_origin(u) for u in old_uris} | {redirect_origin(client_url)}
        new_origins = sorted({redirect_origin(u) for u in added} - known_origins)
        localhost = [u for u in added if is_loopback_uri(u)]
        high = bool(new_origins or localhost)
        flags.append(
            {
                "kind": "cimd.redirect_uri_added",
                "severity": "high" if high else "warning",
                "summary": f"Redirect URI added: {', '.join(added)[:300]}"
                + (f" (new origin {', '.join(new_origins)[:150]})" if new_origins else "")
                + (" (localhost)" if localhost else ""),
                "details": {
                    "added": added,
                    "removed": removed,
                    "new_origins": new_origins,
                    "localhost": localhost,
                },
            }
        )
    elif removed:
        flags.append(
            {
                "kind": "cimd.redirect_uri_changed",
                "severity": "warning",
                "summary": f"Redirect URI removed: {', '.join(removed)[:300]}",
                "details": {"added": [], "removed": removed},
            }
        )
    for name, kind in (
        ("jwks", "cimd.keys_changed"),
        ("jwks_uri", "cimd.keys_changed"),
        ("token_endpoint_auth_method", "cimd.auth_method_changed"),
        ("grant_types", "cimd.grant_types_changed"),
        ("scope", "cimd.scope_changed"),
    ):
        if old.get(name) != new.get(name):
            flags.append(
                {
                    "kind": kind,
                    "severity": "high" if name != "scope" else "warning",
                    "summary": f"{name} changed",
                    "details": {"field": name, "old": old.get(name), "new": new.get(name)},
                }
            )
    return flags
