"""Where the safe fetcher may connect: URL shape, the allow-list, and special-use addresses.

Split from inventory/fetch.py (which re-exports FetchError, check_url and special_use_reason):
the policy is pure apart from name resolution, and is what the SSRF tests pin down.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import httpx
from django.conf import settings

# Always refused, even when an allow-listed CIDR covers them: the keys to a cloud account.
METADATA_ADDRESSES = {
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
}
# RFC 6890 and successors: nothing a public metadata URL should resolve to.
_SPECIAL_V4 = [
    (ipaddress.ip_network(n), why)
    for n, why in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("255.255.255.255/32", "broadcast"),
    )
]
_SPECIAL_V6 = [
    (ipaddress.ip_network(n), why)
    for n, why in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "local NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "SRv6"),
        ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIXTOFOUR = ipaddress.ip_network("2002::/16")


class FetchError(Exception):
    """A fetch that did not produce an acceptable response; `reason` is a short stable code."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.status = status
        self.retry_after = retry_after
        # The refused answer's headers (lower-case names), for callers that read more than
        # Retry-After from a 429: an IdP's X-Rate-Limit-Reset and Date.
        self.headers = dict(headers or {})


# --- Address policy -----------------------------------------------------------------------------


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried inside an IPv6 one (mapped, compatible, 6to4, NAT64), if any."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip))
    return None


def special_use_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | str) -> str | None:
    """Why `ip` is a special-use address a fetch must not reach, or None when it is public."""
    ip = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    if ip.version == 6:
        inner = _embedded_ipv4(ip)
        if inner is not None:
            why = special_use_reason(inner)
            return f"{why} (IPv4 embedded in IPv6)" if why else None
        table = _SPECIAL_V6
    else:
        table = _SPECIAL_V4
    for network, why in table:
        if ip in network:
            return why
    if not ip.is_global:  # whatever the stdlib knows that our table does not
        return "not globally routable"
    return None


@functools.lru_cache(maxsize=16)
def _parse_allowlist(entries: tuple[str, ...]):
    names, networks = set(), []
    for entry in entries:
        entry = entry.strip().lower().strip("[]")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return frozenset(names), tuple(networks)


def _allowlist():
    return _parse_allowlist(tuple(settings.FETCH_ALLOWLIST))


def _ip_allowlisted(ip, networks) -> bool:
    return any(ip.version == n.version and ip in n for n in networks)


def allows_plain_http(url: str) -> bool:
    """True when the URL's host is allow-listed by name or IP (labs and tests use plain http)."""
    try:
        host = httpx.URL(url).raw_host.decode("ascii", "replace").lower().rstrip(".")
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    names, networks = _allowlist()
    if host in names:
        return True
    try:
        return _ip_allowlisted(ipaddress.ip_address(host), networks)
    except ValueError:
        return False


@dataclass
class _Target:
    url: httpx.URL
    host: str
    port: int
    addresses: tuple[str, ...]  # every address the name resolved to, all checked

    @property
    def address(self) -> str:
        return self.addresses[0]


def check_url(url: str, *, timeout: float | None = None) -> _Target:
    """Validate scheme/shape, resolve (within `timeout` seconds), apply the address policy;
    the addresses to connect to."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError("invalid_url", f"not a valid URL: {exc}") from None
    # The ASCII (IDNA) form: what DNS, the Host header and httpcore's connect call all use.
    host = parsed.raw_host.decode("ascii", "replace").lower().rstrip(".")
    if parsed.scheme not in ("http", "https") or not host:
        raise FetchError(
            "not_allowed_scheme" if host else "invalid_url",
            f"only https URLs with a host are fetched, not {url[:200]!r}",
        )
    if parsed.userinfo:
        raise FetchError("invalid_url", "URLs with credentials (user:password@) are refused")
    names, networks = _allowlist()
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = _resolve(host, port, timeout)
    host_listed = host in names
    all_listed = host_listed or all(_ip_allowlisted(a, networks) for a in addresses)
    if parsed.scheme == "http" and not all_listed:
        raise FetchError("not_allowed_scheme", f"plain http is refused for {host} (https only)")
    for address in addresses:
        why = special_use_reason(address)
        if address in METADATA_ADDRESSES or (
            why and not host_listed and not _ip_allowlisted(address, networks)
        ):
            raise FetchError("blocked_address", f"{host} resolves to {address}, a {why} address")
    return _Target(url=parsed, host=host, port=port, addresses=tuple(str(a) for a in addresses))


# getaddrinfo has no timeout; a few spare threads let a fetch give up on a slow resolver at its
# deadline (the stuck lookup finishes in the background) instead of holding its worker.
_RESOLVERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="fetch-dns")


def _resolve(host: str, port: int, timeout: float | None = None) -> list:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    lookup = _RESOLVERS.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=timeout)
    except FutureTimeout:
        lookup.cancel()
        raise FetchError("timeout", f"resolving {host} took longer than {timeout:.1f}s") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError("connect_error", f"cannot resolve {host}: {exc}") from None
    seen = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if ip not in seen:
            seen.append(ip)
    if not seen:
        raise FetchError("connect_error", f"{host} has no addresses")
    return seen
