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
import json
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import orjson
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from standardwebhooks import Webhook

from governance.access.secrets import SecretUnreadable, decrypt
from governance.alerts import formats, http_wire, syslog
from governance.alerts.failures import DeliveryFailed

# Where a destination may point, shared with the services' checks.
from governance.alerts.http_wire import forbidden_address_reason, is_loopback_host

__all__ = [
    "DeliveryFailed",
    "OutgoingMessage",
    "deliver",
    "events_key",
    "forbidden_address_reason",
    "forward_events",
    "is_loopback_host",
    "message_id",
]

HEC_PATH = "/services/collector/event"
DETAIL_MAX = 300
# Splunk HEC refuses bodies over max_content_length (1 MB on older versions); gateways in front
# of webhooks commonly cap near that too.
HTTP_BODY_MAX_BYTES = 1_000_000


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
    `event_format` (canonical JSON, CEF or OCSF API Activity): HTTP bodies split at
    HTTP_BODY_MAX_BYTES (what HEC and most gateways take by default), one request each.
    Each event carries its id, so a receiver can drop a re-send."""
    if not events:
        return
    secret = _secret(destination)
    fmt = destination.event_format
    rendered = [formats.render_event(event, fmt) for event in events]
    try:
        if destination.kind == "webhook":
            # Sized by the rendered event alone (what the body carries): the pair's size
            # counted each event twice and cut bodies at half the limit.
            pairs = list(zip(rendered, events, strict=True))
            for part in _by_size(pairs, lambda pair: _compact(pair[0])):
                body = {
                    "type": "audit.events",
                    "timestamp": datetime.now(UTC).isoformat(),
                    "data": {"format": fmt, "events": [item for item, _ in part]},
                }
                key = events_key([event for _, event in part])
                _post_webhook(destination, secret, key, body, timeout)
        elif destination.kind == "splunk_hec":
            envelopes = [
                _hec_envelope(
                    item, f"mcp:audit:{fmt}", _event_seconds(event), event_id=event.get("event_id")
                )
                for item, event in zip(rendered, events, strict=True)
            ]
            for part in _by_size(envelopes, _compact):
                _post_hec(destination, secret, part, timeout)
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


def _by_size(items: list, serialise, limit: int | None = None) -> list[list]:
    """`items` in runs whose serialised size stays under `limit` bytes (one item alone may be
    bigger: it goes by itself). A failed later run re-sends the earlier ones on retry, under
    the same event ids."""
    limit = limit or HTTP_BODY_MAX_BYTES
    runs, run, size = [], [], 0
    for item in items:
        item_size = len(serialise(item).encode()) + 1
        if run and size + item_size > limit:
            runs.append(run)
            run, size = [], 0
        run.append(item)
        size += item_size
    if run:
        runs.append(run)
    return runs


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
    # orjson: a forwarded send is ~5 MB of events, 62 ms through json.dumps and 5 ms here (the
    # forwarder must outrun ingest); json.dumps for what orjson refuses (integers past 64 bits).
    try:
        return orjson.dumps(document, default=str).decode()
    except orjson.JSONEncodeError:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str)


def _event_seconds(event: dict) -> float:
    ms = formats.epoch_ms(event.get("time"))
    return ms / 1000 if ms is not None else time.time()


def _console_host() -> str:
    return httpx.URL(settings.CONSOLE_BASE_URL).host or socket.gethostname()


# --- HTTP (webhook, HEC) ---------------------------------------------------------------------


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
    response = http_wire.post(
        destination.url, body, headers, timeout, ca_pem=destination.tls_ca_pem
    )
    if not 200 <= response.status_code < 300:
        raise http_wire.status_failure(response, "the webhook receiver")


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
    response = http_wire.post(
        hec_url(destination.url), body, headers, timeout, ca_pem=destination.tls_ca_pem
    )
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
            retry_after=http_wire.retry_after(response.headers.get("retry-after")),
        )
    raise http_wire.status_failure(response, "HEC")


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
    addresses = http_wire.checked_addresses(host, port, timeout)
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
