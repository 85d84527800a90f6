"""Pure checks on registry entries (no I/O, no database): parse one `ServerResponse`, validate
its server.json against the official schema, and list the problems a security team cares about.

Problems are plain dicts `{code, severity, path, message}` stored on the `ServerVersion`.
Messages never contain a secret value.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import orjson
from jsonschema import Draft7Validator

from inventory.problems import problem
from inventory.remote_urls import strip_userinfo, strip_userinfo_everywhere

SCHEMA_PATH = Path(__file__).parent / "schemas" / "server.schema.json"
OFFICIAL_META_KEY = "io.modelcontextprotocol.registry/official"
STATUSES = ("active", "deprecated", "deleted")
MAX_SCHEMA_ERRORS = 20  # one broken document must not produce an unbounded problem list

# The official registry's allowed package base URLs (mcp-spec.md §8.4). npm and PyPI are
# written as the digest writes them; deployments set the real ones with the
# REGISTRY_PACKAGE_BASE_URLS setting (see docs/discovery-registry.md).
OFFICIAL_PACKAGE_BASE_URLS: dict[str, tuple[str, ...]] = {
    "npm": ("https://npm-registry.example",),
    "pypi": ("https://python-index.example",),
    "nuget": ("https://api.nuget.org/v3/index.json",),
    "cargo": ("https://crates.io",),
    "oci": (
        "https://docker.io",
        "https://ghcr.io",
        "https://quay.io",
        "https://*.pkg.dev",
        "https://*.azurecr.io",
        "https://mcr.microsoft.com",
    ),
    "mcpb": ("https://github.com", "https://gitlab.com"),
}

PLACEHOLDER_RE = re.compile(r"\$\{[^}]*\}|\{\{[^}]*\}\}")
TEMPLATE_REF_RE = re.compile(r"\{[^{}]+\}")
# ^1.2.3, ~1.2.3, >=1.2.3, <2, =1, 1.x, 1.*, *, a || b, 1.0 - 2.0
RANGE_RE = re.compile(r"^\s*(\^|~|[<>]=?|=)|\|\||\s-\s|(^|\.)[xX*](\.|$)")

SEVERITY_HIGH, SEVERITY_WARNING = "high", "warning"
# Problems risky enough to raise a flag, not just to be listed on the version.
FLAGGED_CODES = {
    "literal_secret",
    "non_https_remote",
    "mcpb_missing_sha256",
    "registry_base_url_not_allowed",
}


class EntryError(ValueError):
    """A list item that is not a usable ServerResponse (no server, no name or version)."""


@dataclass
class Entry:
    """One server version as a registry listed it, parsed and checked."""

    name: str
    version: str
    document: dict  # the server.json; literal secrets redacted once checked
    content_hash: str
    status: str = "active"
    status_message: str = ""
    is_latest: bool = False
    published_at: datetime | None = None
    updated_at: datetime | None = None
    status_changed_at: datetime | None = None
    title: str = ""
    description: str = ""
    repository_url: str = ""
    repository_id: str = ""
    remotes: list[tuple[str, str]] = field(default_factory=list)
    packages: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    checked: bool = False  # problems, remotes and packages filled in (see check_entry)


@lru_cache(maxsize=1)
def server_validator() -> Draft7Validator:
    """The server.json validator, compiled once per process."""
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def parse_time(value) -> datetime | None:
    """An RFC 3339 timestamp, or None when absent or unreadable; one without an offset is UTC
    (a naive datetime would not compare with the aware ones when a page is sorted)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _text(value, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def parse_entry(item, *, allowed_base_urls: dict | None = None, check: bool = True) -> Entry:
    """Turn one list item into an Entry; raises EntryError if unusable.

    With check=False only the cheap fields and the content hash are read; `check_entry` adds
    the schema validation and problem checks later, for the versions that actually changed.
    """
    if not isinstance(item, dict) or not isinstance(item.get("server"), dict):
        raise EntryError("item has no 'server' object")
    server = item["server"]
    name, version = server.get("name"), server.get("version")
    if not isinstance(name, str) or not name.strip() or len(name) > 300:
        raise EntryError("server.name is missing or not a string of at most 300 characters")
    if not isinstance(version, str) or not version.strip() or len(version) > 255:
        raise EntryError(
            f"{name}: server.version is missing or not a string of at most 255 characters"
        )
    meta = item.get("_meta") if isinstance(item.get("_meta"), dict) else {}
    official = meta.get(OFFICIAL_META_KEY) if isinstance(meta.get(OFFICIAL_META_KEY), dict) else {}
    repository = server.get("repository") if isinstance(server.get("repository"), dict) else {}
    entry = Entry(
        name=name,
        version=version,
        document=server,
        content_hash=content_hash(server, official),
        status=official.get("status") if official.get("status") in STATUSES else "active",
        status_message=_text(official.get("statusMessage"), 500),
        is_latest=official.get("isLatest") is True,
        published_at=parse_time(official.get("publishedAt")),
        updated_at=parse_time(official.get("updatedAt")),
        status_changed_at=parse_time(official.get("statusChangedAt")),
        title=_text(server.get("title"), 300),
        description=_text(server.get("description"), 2000),
        repository_url=strip_userinfo(_text(repository.get("url"), 500))[0],
        repository_id=str(repository.get("id"))[:200] if repository.get("id") is not None else "",
    )
    if official.get("status") not in (None, *STATUSES):
        entry.problems.append(
            problem(
                "unknown_status",
                f"unknown registry status {str(official.get('status'))[:50]!r}",
                path="_meta.status",
                severity=SEVERITY_WARNING,
            )
        )
    return check_entry(entry, allowed_base_urls=allowed_base_urls) if check else entry


def check_entry(entry: Entry, *, allowed_base_urls: dict | None = None) -> Entry:
    """Validate and check a parsed entry: problems, redacted document, remotes, packages."""
    if entry.checked:
        return entry
    server = entry.document
    entry.problems = entry.problems + check_server_json(server, allowed_base_urls=allowed_base_urls)
    entry.document = strip_userinfo_everywhere(redact_secrets(server))  # remote_urls.py: why
    entry.remotes = _remotes(server)
    entry.packages = _packages(server)
    entry.checked = True
    return entry


def content_hash(server: dict, official: dict) -> str:
    """sha256 over the server.json and the registry's official block, key order ignored."""
    payload = orjson.dumps(
        {"server": server, "official": official},
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )
    return hashlib.sha256(payload).hexdigest()


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _remotes(server: dict) -> list[tuple[str, str]]:
    out = []
    for remote in _list(server.get("remotes")):
        if isinstance(remote, dict) and isinstance(remote.get("url"), str) and remote["url"]:
            transport = (
                remote.get("type")
                if remote.get("type") in ("streamable-http", "sse")
                else "streamable-http"
            )
            out.append((remote["url"][:1000], transport))
    return out


def _packages(server: dict) -> list[dict]:
    out = []
    for position, pkg in enumerate(_list(server.get("packages"))):
        if not isinstance(pkg, dict):
            continue
        transport = pkg.get("transport") if isinstance(pkg.get("transport"), dict) else {}
        out.append(
            {
                "position": position,
                "registry_type": _text(pkg.get("registryType"), 50),
                "identifier": _text(pkg.get("identifier"), 1000),
                "version": _text(pkg.get("version"), 255),
                "transport": _text(transport.get("type"), 30),
                "file_sha256": _text(pkg.get("fileSha256"), 64),
                "registry_base_url": _text(pkg.get("registryBaseUrl"), 500),
            }
        )
    return out


# --- checks ----------------------------------------------------------------------------------


def check_server_json(server: dict, *, allowed_base_urls: dict | None = None) -> list[dict]:
    """All problems of one server.json: schema errors first, then the security checks."""
    problems = schema_problems(server)
    problems += placeholder_problems(server)
    problems += version_range_problems(server)
    problems += remote_problems(server)
    problems += secret_problems(server)
    problems += package_problems(server, allowed_base_urls or OFFICIAL_PACKAGE_BASE_URLS)
    return problems


def schema_problems(server: dict) -> list[dict]:
    out = []
    for error in server_validator().iter_errors(server):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        out.append(problem("schema", error.message[:300], path=path, severity=SEVERITY_WARNING))
        if len(out) >= MAX_SCHEMA_ERRORS:
            out.append(
                problem(
                    "schema",
                    "more schema errors not shown",
                    path="(root)",
                    severity=SEVERITY_WARNING,
                )
            )
            break
    return out


def _checked_strings(server: dict):
    """(path, value) of the fields where a template placeholder means a broken publish."""
    for key in ("version", "websiteUrl"):
        yield key, server.get(key)
    repo = server.get("repository")
    if isinstance(repo, dict):
        yield "repository.url", repo.get("url")
    for i, remote in enumerate(_list(server.get("remotes"))):
        if isinstance(remote, dict):
            yield f"remotes.{i}.url", remote.get("url")
    for i, pkg in enumerate(_list(server.get("packages"))):
        if isinstance(pkg, dict):
            for key in ("identifier", "version", "fileSha256", "registryBaseUrl"):
                yield f"packages.{i}.{key}", pkg.get(key)
            transport = pkg.get("transport")
            if isinstance(transport, dict):
                yield f"packages.{i}.transport.url", transport.get("url")


def placeholder_problems(server: dict) -> list[dict]:
    out = []
    for path, value in _checked_strings(server):
        if isinstance(value, str) and (match := PLACEHOLDER_RE.search(value)):
            out.append(
                problem(
                    "template_placeholder",
                    f"unresolved template placeholder {match.group(0)[:40]}",
                    path=path,
                    severity=SEVERITY_WARNING,
                )
            )
    return out


def is_version_range(version: str) -> bool:
    """True for `latest` and for ranges (^1.2, ~1.2, >=1, 1.x, 1.*, a || b)."""
    stripped = version.strip()
    return stripped.lower() == "latest" or stripped == "*" or bool(RANGE_RE.search(stripped))


def version_range_problems(server: dict) -> list[dict]:
    out = []
    candidates = [("version", server.get("version"))]
    for i, pkg in enumerate(_list(server.get("packages"))):
        if isinstance(pkg, dict):
            candidates.append((f"packages.{i}.version", pkg.get("version")))
    for path, value in candidates:
        if isinstance(value, str) and not PLACEHOLDER_RE.search(value) and is_version_range(value):
            out.append(
                problem(
                    "version_range",
                    f"{value[:40]!r} is a range or 'latest', not an exact version",
                    path=path,
                    severity=SEVERITY_WARNING,
                )
            )
    return out


def remote_problems(server: dict) -> list[dict]:
    out = []
    for i, remote in enumerate(_list(server.get("remotes"))):
        url = remote.get("url") if isinstance(remote, dict) else None
        if (
            isinstance(url, str)
            and not url.startswith("{")
            and not url.lower().startswith("https://")
        ):
            out.append(
                problem(
                    "non_https_remote",
                    f"remote URL is not HTTPS ({urlsplit(url).scheme or 'no scheme'})",
                    path=f"remotes.{i}.url",
                    severity=SEVERITY_HIGH,
                )
            )
    return out


def _inputs(server: dict):
    """(path, input dict) of every Input in the document, including nested variables."""
    stack = []
    for i, remote in enumerate(_list(server.get("remotes"))):
        if isinstance(remote, dict):
            stack += [
                (f"remotes.{i}.headers.{j}", h) for j, h in enumerate(_list(remote.get("headers")))
            ]
            if isinstance(remote.get("variables"), dict):
                stack += [(f"remotes.{i}.variables.{k}", v) for k, v in remote["variables"].items()]
    for i, pkg in enumerate(_list(server.get("packages"))):
        if isinstance(pkg, dict):
            for key in ("environmentVariables", "runtimeArguments", "packageArguments"):
                stack += [(f"packages.{i}.{key}.{j}", a) for j, a in enumerate(_list(pkg.get(key)))]
            transport = pkg.get("transport")
            if isinstance(transport, dict):
                stack += [
                    (f"packages.{i}.transport.headers.{j}", h)
                    for j, h in enumerate(_list(transport.get("headers")))
                ]
    while stack:
        path, item = stack.pop()
        if not isinstance(item, dict):
            continue
        yield path, item
        if isinstance(item.get("variables"), dict):
            stack += [(f"{path}.variables.{k}", v) for k, v in item["variables"].items()]


def _literal_secret_keys(item: dict) -> list[str]:
    """Keys of a secret Input that hold a literal value rather than a `{variable}` template."""
    if item.get("isSecret") is not True:
        return []
    return [
        key
        for key in ("value", "default")
        if isinstance(item.get(key), str)
        and item[key].strip()
        and not TEMPLATE_REF_RE.search(item[key])
    ]


def secret_problems(server: dict) -> list[dict]:
    out = []
    for path, item in _inputs(server):
        for key in _literal_secret_keys(item):
            # Never echo the value: it may be a live credential.
            out.append(
                problem(
                    "literal_secret",
                    "an input marked isSecret carries a literal value (value redacted here)",
                    path=f"{path}.{key}",
                    severity=SEVERITY_HIGH,
                )
            )
    return out


def redact_secrets(server: dict) -> dict:
    """A copy of the server.json with literal secret values replaced, for storage and display."""
    if not any(_literal_secret_keys(item) for _path, item in _inputs(server)):
        return server
    copy = json.loads(json.dumps(server))
    for _path, item in _inputs(copy):
        for key in _literal_secret_keys(item):
            item[key] = "<redacted>"
    return copy


def base_url_allowed(registry_type: str, url: str, allowed: dict) -> bool:
    """Whether a package base URL is one the official registry accepts for its type."""
    parts = urlsplit(url.rstrip("/"))
    for candidate in allowed.get(registry_type.lower(), ()):
        want = urlsplit(candidate.rstrip("/"))
        if parts.scheme != want.scheme:
            continue
        host, want_host = (parts.hostname or ""), (want.hostname or "")
        host_ok = (
            (host.endswith(want_host[1:]) and host != want_host[2:])
            if want_host.startswith("*.")
            else host == want_host
        )
        if host_ok and (not want.path or parts.path.startswith(want.path)):
            return True
    return False


def package_problems(server: dict, allowed: dict) -> list[dict]:
    out = []
    for i, pkg in enumerate(_list(server.get("packages"))):
        if not isinstance(pkg, dict):
            continue
        rtype = pkg.get("registryType") if isinstance(pkg.get("registryType"), str) else ""
        if rtype.lower() == "mcpb":
            if not pkg.get("fileSha256"):
                out.append(
                    problem(
                        "mcpb_missing_sha256",
                        "MCPB package without fileSha256: the download cannot be verified",
                        path=f"packages.{i}.fileSha256",
                        severity=SEVERITY_WARNING,
                    )
                )
            identifier = pkg.get("identifier")
            if isinstance(identifier, str) and not base_url_allowed("mcpb", identifier, allowed):
                out.append(
                    problem(
                        "registry_base_url_not_allowed",
                        "MCPB download is not from an allowed release host",
                        path=f"packages.{i}.identifier",
                        severity=SEVERITY_WARNING,
                    )
                )
        base = pkg.get("registryBaseUrl")
        if isinstance(base, str) and base and not base_url_allowed(rtype, base, allowed):
            out.append(
                problem(
                    "registry_base_url_not_allowed",
                    f"registryBaseUrl {base[:100]} is outside the official allow-list "
                    f"for {rtype or 'this registry type'}",
                    path=f"packages.{i}.registryBaseUrl",
                    severity=SEVERITY_WARNING,
                )
            )
    return out
