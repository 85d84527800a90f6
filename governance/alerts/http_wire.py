"""HTTP for the webhook and HEC transports: where a destination may be reached, a POST pinned to
the checked addresses with no redirects followed, and what an answer means for a retry.

Private addresses are allowed (SIEMs are internal); link-local ones never (169.254.0.0/16 holds
the cloud metadata service; fe80::/10), checked on every send after resolving the name. The
connection goes to the addresses checked (inventory's pinned backend), so a second DNS answer
cannot move it.
"""

from __future__ import annotations

import functools
import ipaddress
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpcore
import httpx

from governance.alerts.failures import DeliveryFailed
from inventory.fetch_policy import METADATA_ADDRESSES, FetchError, _embedded_ipv4, _resolve
from inventory.fetch_transport import _PinnedBackend

USER_AGENT = "mcp-governance-alerts"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback_host(host: str) -> bool:
    """A loopback literal (127.0.0.0/8, ::1) or the name localhost; a name merely starting with
    "127." (127.attacker.example) resolves wherever its owner likes."""
    host = host.lower().strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def forbidden_address_reason(address) -> str | None:
    """Why an address may not be reached: link-local (the cloud metadata service lives there)."""
    ip = ipaddress.ip_address(address)
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.version == 6:
        inner = _embedded_ipv4(ip)
        if inner is not None:
            ip = inner
    if ip.is_link_local:
        return "a link-local address"
    return None


def checked_addresses(host: str, port: int, timeout: float) -> tuple[str, ...]:
    """The host's addresses, each allowed; refused (not retryable) if any is link-local."""
    try:
        addresses = _resolve(host.strip("[]"), port, timeout)
    except FetchError as exc:
        raise DeliveryFailed(exc.message, retryable=True) from None
    for address in addresses:
        why = forbidden_address_reason(address)
        if why:
            raise DeliveryFailed(f"{host} resolves to {address}, {why}", retryable=False)
    return tuple(str(a) for a in addresses)


def retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def trust_context(ca_pem: str) -> ssl.SSLContext:
    """What every destination's TLS trusts (HTTPS and syslog alike): the machine's trust store
    (a corporate CA installed there), the public CAs bundled with the console (certifi), and
    the destination's own CA when given. Certificate and host name checked, TLS 1.2 or later."""
    context = httpx.create_ssl_context(trust_env=False)
    context.load_default_certs()
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    return context


@functools.lru_cache(maxsize=16)
def ssl_context(ca_pem: str) -> ssl.SSLContext:
    """trust_context, built once per CA for the HTTP client (loading the stores costs tens of
    milliseconds, per request otherwise). httpcore sets ALPN on it: not for other protocols."""
    return trust_context(ca_pem)


def post(
    url: str, body: bytes, headers: dict, timeout: float, *, ca_pem: str = ""
) -> httpx.Response:
    """POST to `url` pinned to its checked addresses, trusting `ca_pem` too when given;
    transport failures as DeliveryFailed."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise DeliveryFailed("url: not a valid URL", retryable=False) from None
    host = parsed.host
    if parsed.scheme != "https" and not (parsed.scheme == "http" and is_loopback_host(host)):
        raise DeliveryFailed("url: only https (plain http to this host only)", retryable=False)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = checked_addresses(host, port, timeout)
    context = ssl_context(ca_pem)
    transport = httpx.HTTPTransport(verify=context, trust_env=False)
    # As inventory/fetch_transport.py does: httpx has no public hook for the network backend.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=context, network_backend=_PinnedBackend(host, port, addresses)
    )
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json", **headers}
    try:
        with httpx.Client(transport=transport, trust_env=False, follow_redirects=False) as client:
            return client.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise DeliveryFailed(f"{host}:{port} did not answer within {timeout:g}s") from None
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise DeliveryFailed(
                f"{host}: TLS certificate not trusted ({_ssl_reason(exc)})", retryable=False
            ) from None
        raise DeliveryFailed(f"cannot connect to {host}:{port}: {_ssl_reason(exc)}") from None
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{host}:{port}: {type(exc).__name__}: {exc}") from None


def _ssl_reason(exc: Exception) -> str:
    return str(exc).split("] ")[-1][:150] or type(exc).__name__


def status_failure(response: httpx.Response, what: str) -> DeliveryFailed:
    status = response.status_code
    text = response.text[:150].strip()
    detail = f"{what} answered {status} {response.reason_phrase}" + (f": {text}" if text else "")
    if 300 <= status < 400:
        where = response.headers.get("location", "")[:150]
        return DeliveryFailed(
            f"{what} answered {status} (redirects are not followed: {where})", retryable=False
        )
    if status in (408, 429) or status >= 500:
        return DeliveryFailed(detail, retry_after=retry_after(response.headers.get("retry-after")))
    return DeliveryFailed(detail, retryable=False)
