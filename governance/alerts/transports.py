"""Sending to a destination over its wire (issue 14 §4): the one place that speaks webhook
(Standard Webhooks signatures), Splunk HEC, syslog (RFC 5424 octet-counted over TCP or TLS, CEF
payloads) and email. The delivery engine (governance/alerts/delivery.py) and the event forwarder
(governance/alerts/forwarding.py) call these two functions and nothing lower.

Both raise `DeliveryFailed` when the receiver did not take the message; `retryable` says
whether trying again can help (timeouts, refused connections, 429, 5xx: yes; 4xx other than
408/429, a bad configuration: no). A message the receiver took is never re-sent by the caller
except after a crash, and then under the same idempotency key.

Where we connect: SIEMs and webhook receivers live on internal networks, so private addresses
are allowed; link-local ones (169.254.0.0/16 with the cloud metadata service, fe80::/10) never
are. HTTP connections are pinned to the addresses that were checked (no second DNS answer), and
redirects are not followed. No secret (signing secret, HEC token) reaches `detail`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpcore
import httpx
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from standardwebhooks import Webhook

from governance.access.secrets import SecretUnreadable, decrypt
from governance.alerts import formats, syslog
from inventory.fetch_policy import METADATA_ADDRESSES, FetchError, _embedded_ipv4, _resolve
from inventory.fetch_transport import _PinnedBackend

HEC_PATH = "/services/collector/event"
USER_AGENT = "mcp-governance-alerts"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
DETAIL_MAX = 300


class DeliveryFailed(Exception):
    def __init__(self, detail: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass
class OutgoingMessage:
    """One message about findings (or a test): `body` is the JSON document a webhook receives
    (formats.findings_body: {type, timestamp, data: {labels, count, findings}}); the other
    wires frame the same facts their own way."""

    idempotency_key: str
    event_type: str  # "findings.opened", "findings.repeat", "findings.resolved", "test"
    subject: str  # one line: email subject, CEF name, syslog MSG summary
    severity: str  # the highest severity among the findings
    body: dict = field(default_factory=dict)
    # Seconds since the epoch: when the message was made (the CEF rt of a test message). The
    # webhook signature uses the time of each attempt, as Standard Webhooks requires (receivers
    # reject a timestamp older than their tolerance, and a retry can come hours later).
    timestamp: float = 0.0


def deliver(destination, message: OutgoingMessage, *, timeout: float = 10.0) -> None:
    """Send one message to `destination` (a governance.alerts.models.Destination)."""
    secret = _secret(destination)
    try:
        if destination.kind == "webhook":
            _post_webhook(destination, secret, message.idempotency_key, message.body, timeout)
        elif destination.kind == "splunk_hec":
            envelope = _hec_envelope(
                message.body,
                "mcp:finding",
                message.timestamp or time.time(),
                idempotency_key=message.idempotency_key,
            )
            _post_hec(destination, secret, [envelope], timeout)
        elif destination.kind == "syslog":
            frames = [
                _syslog_frame(
                    line,
                    msgid=message.event_type,
                    severity=syslog.SEVERITY.get(message.severity, 6),
                    params={"key": message.idempotency_key, "finding": finding.get("id")},
                )
                for line, finding in _lines_and_findings(message)
            ]
            _send_syslog(destination, frames, timeout)
        elif destination.kind == "email":
            _send_email(destination, message, timeout)
        else:
            raise DeliveryFailed(f"unknown destination kind {destination.kind!r}", retryable=False)
    except DeliveryFailed as exc:
        raise _scrubbed(exc, secret) from None


def forward_events(destination, events: list[dict], *, timeout: float = 30.0) -> None:
    """Send audit events (canonical dicts, see audit/services/canon.py) in the destination's
    `event_format` (canonical JSON, CEF or OCSF API Activity): one request or one connection
    for the whole list. Each event carries its id, so a receiver can drop a re-send."""
    if not events:
        return
    secret = _secret(destination)
    fmt = destination.event_format
    rendered = [formats.render_event(event, fmt) for event in events]
    try:
        if destination.kind == "webhook":
            body = {
                "type": "audit.events",
                "timestamp": datetime.now(UTC).isoformat(),
                "data": {"format": fmt, "events": rendered},
            }
            _post_webhook(destination, secret, events_key(events), body, timeout)
        elif destination.kind == "splunk_hec":
            envelopes = [
                _hec_envelope(
                    item, f"mcp:audit:{fmt}", _event_seconds(event), event_id=event.get("event_id")
                )
                for item, event in zip(rendered, events, strict=True)
            ]
            _post_hec(destination, secret, envelopes, timeout)
        elif destination.kind == "syslog":
            frames = [
                _syslog_frame(
                    item if isinstance(item, str) else _compact(item),
                    msgid=event.get("type") or "audit.event",
                    severity=4 if formats._failed(event) else 6,
                    params={"eventId": event.get("event_id"), "source": event.get("source_id")},
                )
                for item, event in zip(rendered, events, strict=True)
            ]
            _send_syslog(destination, frames, timeout)
        else:
            raise DeliveryFailed(
                f"{destination.get_kind_display()} destinations do not take audit events",
                retryable=False,
            )
    except DeliveryFailed as exc:
        raise _scrubbed(exc, secret) from None


def events_key(events: list[dict]) -> str:
    """The webhook-id of a batch of events: the same events give the same id on a re-send."""
    ids = "\n".join(f"{e.get('source_id')}/{e.get('event_id')}" for e in events)
    return "evts_" + hashlib.sha256(ids.encode()).hexdigest()[:40]


# --- Shared pieces ---------------------------------------------------------------------------


def _secret(destination) -> str:
    if not destination.secret_encrypted:
        return ""
    try:
        return decrypt(destination.secret_encrypted)
    except SecretUnreadable as exc:
        raise DeliveryFailed(str(exc), retryable=False) from None


def _scrubbed(exc: DeliveryFailed, secret: str) -> DeliveryFailed:
    """The failure with the secret cut out of its detail (a receiver may echo our headers)."""
    detail = exc.detail
    if secret and secret in detail:
        detail = detail.replace(secret, "[hidden]")
    return DeliveryFailed(detail[:DETAIL_MAX], retryable=exc.retryable, retry_after=exc.retry_after)


def _compact(document) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str)


def _event_seconds(event: dict) -> float:
    ms = formats.epoch_ms(event.get("time"))
    return ms / 1000 if ms is not None else time.time()


def _console_host() -> str:
    return httpx.URL(settings.CONSOLE_BASE_URL).host or socket.gethostname()


def is_loopback_host(host: str) -> bool:
    return host.lower().strip("[]") in LOOPBACK_NAMES or host.startswith("127.")


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


def _checked_addresses(host: str, port: int, timeout: float) -> tuple[str, ...]:
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


def _retry_after(value: str | None) -> float | None:
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


# --- HTTP (webhook, HEC) ---------------------------------------------------------------------


def _ssl_context(ca_pem: str) -> ssl.SSLContext:
    context = httpx.create_ssl_context(trust_env=False)
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    return context


def _post(destination, url: str, body: bytes, headers: dict, timeout: float) -> httpx.Response:
    """POST to `url` pinned to its checked addresses; transport failures as DeliveryFailed."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise DeliveryFailed("url: not a valid URL", retryable=False) from None
    host = parsed.host
    if parsed.scheme != "https" and not (parsed.scheme == "http" and is_loopback_host(host)):
        raise DeliveryFailed("url: only https (plain http to this host only)", retryable=False)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = _checked_addresses(host, port, timeout)
    context = _ssl_context(destination.tls_ca_pem)
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


def _status_failure(response: httpx.Response, what: str) -> DeliveryFailed:
    status = response.status_code
    text = response.text[:150].strip()
    detail = f"{what} answered {status} {response.reason_phrase}" + (f": {text}" if text else "")
    if 300 <= status < 400:
        where = response.headers.get("location", "")[:150]
        return DeliveryFailed(
            f"{what} answered {status} (redirects are not followed: {where})", retryable=False
        )
    if status in (408, 429) or status >= 500:
        return DeliveryFailed(detail, retry_after=_retry_after(response.headers.get("retry-after")))
    return DeliveryFailed(detail, retryable=False)


def _post_webhook(destination, secret: str, msg_id: str, document: dict, timeout: float) -> None:
    if not secret:
        raise DeliveryFailed("secret: the webhook has no signing secret", retryable=False)
    body = _compact(document).encode()
    now = datetime.now(UTC)
    try:
        signature = Webhook(secret).sign(msg_id=msg_id, timestamp=now, data=body.decode())
    except Exception:  # noqa: BLE001 - a malformed whsec_ secret: never show it
        raise DeliveryFailed("secret: not a valid whsec_ signing secret", retryable=False) from None
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    response = _post(destination, destination.url, body, headers, timeout)
    if not 200 <= response.status_code < 300:
        raise _status_failure(response, "the webhook receiver")


def hec_url(url: str) -> str:
    """The event endpoint: a bare `https://splunk:8088` gets HEC's /services/collector/event."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(path=HEC_PATH)) if parsed.path in ("", "/") else url


def _hec_envelope(
    event, sourcetype: str, when: float, *, idempotency_key: str = "", event_id: str = ""
) -> dict:
    envelope = {
        "time": round(when, 3),
        "host": _console_host(),
        "source": "mcp-governance",
        "sourcetype": sourcetype,
        "event": event,
    }
    fields = {}
    if idempotency_key:
        fields["idempotency_key"] = idempotency_key
    if event_id:
        fields["event_id"] = event_id
    if fields:
        envelope["fields"] = fields
    return envelope


def _post_hec(destination, token: str, envelopes: list[dict], timeout: float) -> None:
    if not token:
        raise DeliveryFailed("secret: the HEC destination has no token", retryable=False)
    # HEC batches are JSON objects back to back: no array, no commas.
    body = "".join(_compact(e) for e in envelopes).encode()
    headers = {"Authorization": f"Splunk {token}"}
    response = _post(destination, hec_url(destination.url), body, headers, timeout)
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    code = answer.get("code") if isinstance(answer, dict) else None
    if response.status_code == 200 and code in (0, None):
        return
    if response.status_code == 200 or code is not None:
        detail = f"HEC answered {response.status_code}, code {code}: {answer.get('text', '')}"
        retryable = code in (8, 9) or response.status_code >= 500 or response.status_code == 429
        raise DeliveryFailed(
            detail[:DETAIL_MAX],
            retryable=retryable,
            retry_after=_retry_after(response.headers.get("retry-after")),
        )
    raise _status_failure(response, "HEC")


# --- Syslog ----------------------------------------------------------------------------------


def _lines_and_findings(message: OutgoingMessage):
    findings = formats.body_findings(message.body) or [{}]
    return zip(formats.message_cef_lines(message), findings, strict=False)


def _syslog_frame(msg: str, *, msgid: str, severity: int, params: dict) -> bytes:
    return syslog.message(
        msg=msg, msgid=msgid, severity=severity, params=params, hostname=_console_host()
    )


def _send_syslog(destination, frames: list[bytes], timeout: float) -> None:
    host, port = destination.host, destination.port
    if not host or not port:
        raise DeliveryFailed("host/port: the syslog destination has no address", retryable=False)
    addresses = _checked_addresses(host, port, timeout)
    use_tls = destination.syslog_transport == "tls"
    try:
        syslog.send(
            host=host.strip("[]"),
            addresses=addresses,
            port=port,
            frames=frames,
            use_tls=use_tls,
            ca_pem=destination.tls_ca_pem,
            timeout=timeout,
        )
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryFailed(
            f"{host}: TLS certificate not trusted ({exc.verify_message})", retryable=False
        ) from None
    except ssl.SSLError as exc:
        raise DeliveryFailed(f"{host}:{port}: TLS failed ({exc.reason})") from None
    except TimeoutError:
        raise DeliveryFailed(f"{host}:{port} did not answer within {timeout:g}s") from None
    except OSError as exc:
        raise DeliveryFailed(f"cannot send to {host}:{port}: {exc.strerror or exc}") from None


# --- Email -----------------------------------------------------------------------------------


def message_id(idempotency_key: str) -> str:
    """The Message-ID: the same on a re-send, so mail clients thread or drop the duplicate."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or _console_host()
    local = "".join(c for c in idempotency_key if c.isalnum() or c in "-_.")
    return f"<{local}@{domain}>"


def _send_email(destination, message: OutgoingMessage, timeout: float) -> None:
    recipients = [a.strip() for a in destination.email_to.split(",") if a.strip()]
    if not recipients:
        raise DeliveryFailed("email_to: no recipients", retryable=False)
    if settings.EMAIL_BACKEND.endswith("smtp.EmailBackend") and not settings.EMAIL_HOST:
        raise DeliveryFailed(
            "EMAIL_HOST is not set: the console cannot send email", retryable=False
        )
    email = EmailMessage(
        subject=message.subject.replace("\n", " ")[:200],
        body=formats.message_text(message),
        to=recipients,
        headers={"Message-ID": message_id(message.idempotency_key)},
        connection=get_connection(timeout=timeout),
    )
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(
            f"the mail server refused the recipients {sorted(exc.recipients)}", retryable=False
        ) from None
    except smtplib.SMTPResponseException as exc:
        # 4yz replies are transient (RFC 5321 §4.2.1), 5yz permanent.
        raise DeliveryFailed(
            f"the mail server answered {exc.smtp_code}", retryable=400 <= exc.smtp_code < 500
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"cannot send email via {settings.EMAIL_HOST}: {exc}") from None
