"""Sending to a destination over its wire (issue 14 §4): the one place that speaks webhook
(Standard Webhooks signatures), Splunk HEC, syslog (RFC 5424 octet-counted over TCP or TLS, CEF
payloads) and email. The delivery engine (governance/alerts/delivery.py) and the event forwarder
(governance/alerts/forwarding.py) call these two functions and nothing lower.

Both raise `DeliveryFailed` when the receiver did not take the message; `retryable` says
whether trying again can help (timeouts, refused connections, 429, 5xx: yes; 4xx other than
408/429, a bad configuration: no). A message the receiver took is never re-sent by the caller
except after a crash, and then under the same idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class DeliveryFailed(Exception):
    def __init__(self, detail: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass
class OutgoingMessage:
    """One message about findings (or a test): `body` is the JSON document a webhook receives;
    the other wires frame the same facts their own way."""

    idempotency_key: str
    event_type: str  # "findings.opened", "findings.repeat", "findings.resolved", "test"
    subject: str  # one line: email subject, CEF name, syslog MSG summary
    severity: str  # the highest severity among the findings
    body: dict = field(default_factory=dict)
    timestamp: float = 0.0  # seconds since the epoch; the signature's timestamp


def deliver(destination, message: OutgoingMessage, *, timeout: float = 10.0) -> None:
    """Send one message to `destination` (a governance.alerts.models.Destination)."""
    raise NotImplementedError


def forward_events(destination, events: list[dict], *, timeout: float = 30.0) -> None:
    """Send audit events (canonical dicts, see audit/services/canon.py) in the destination's
    `event_format` (canonical JSON, CEF or OCSF API Activity): one request or one connection
    for the whole list. Each event carries its id, so a receiver can drop a re-send."""
    raise NotImplementedError
