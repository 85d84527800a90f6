"""Destinations: add, change, delete (each recorded), and "send test" (issue 14 §4).

Every check names the field it is about (ValidationError({field: [message]})), so the form, the
API and the command line show the same sentence. The secret (webhook signing secret, HEC token)
is encrypted before it reaches the database and never comes back out of this module, except to
the transports; the admin record says only that it was set or changed.

Where a destination may point: https for webhooks and HEC; plain http only to this machine
(127.0.0.0/8, ::1, localhost: a local forwarder or a lab); any private address; never a
link-local one (169.254.0.0/16, where cloud metadata lives, or fe80::/10), checked again by the
transports when they resolve the name.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx
from cryptography import x509
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.access import secrets
from governance.access.records import model_snapshot, record_admin_action
from governance.alerts import formats, forwarding, transports
from governance.alerts.models import Destination
from inventory.finding_rules import RULES_BY_KIND

SEVERITIES = ("info", "warning", "high", "critical")
MAX_RECIPIENTS = 20
# Fields an Admin sets (the rest are the console's bookkeeping).
EDITABLE = (
    "name",
    "enabled",
    "url",
    "host",
    "port",
    "syslog_transport",
    "tls_ca_pem",
    "email_to",
    "send_findings",
    "min_severity",
    "kinds",
    "send_resolved",
    "group_by",
    "group_wait_seconds",
    "group_interval_seconds",
    "repeat_interval_seconds",
    "forward_events",
    "event_format",
)
# The wire each kind needs, and which kinds take a secret.
NEEDS = {
    Destination.Kind.WEBHOOK: ("url",),
    Destination.Kind.SPLUNK_HEC: ("url",),
    Destination.Kind.SYSLOG: ("host", "port", "syslog_transport"),
    Destination.Kind.EMAIL: ("email_to",),
}
SECRET_KINDS = (Destination.Kind.WEBHOOK, Destination.Kind.SPLUNK_HEC)
SECRET_LABEL = {
    Destination.Kind.WEBHOOK: "Signing secret (whsec_...)",
    Destination.Kind.SPLUNK_HEC: "HEC token",
}


@dataclass
class SendTestResult:
    ok: bool
    detail: str
    at: datetime
    retryable: bool = False


# --- Checks ----------------------------------------------------------------------------------


def _check_url(url: str) -> str:
    url = (url or "").strip()
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ValidationError({"url": ["Not a valid URL."]}) from None
    host = parsed.host
    if parsed.scheme not in ("http", "https") or not host:
        raise ValidationError({"url": ["Use an https:// URL with a host."]})
    if parsed.scheme == "http" and not transports.is_loopback_host(host):
        raise ValidationError(
            {"url": ["Use https: plain http is allowed only to this machine (127.0.0.1)."]}
        )
    if parsed.userinfo:
        raise ValidationError({"url": ["Put credentials in the secret, not in the URL."]})
    _check_address_literal("url", host)
    return url


def _check_address_literal(name: str, host: str) -> None:
    try:
        why = transports.forbidden_address_reason(host.strip("[]"))
    except ValueError:
        return  # a name: resolved and checked when sending
    if why:
        raise ValidationError({name: [f"{host} is {why}: never a destination."]})


def _check_host(host: str) -> str:
    host = (host or "").strip()
    if not host or len(host) > 255 or any(c in host for c in "/: ") and not _is_ipv6(host):
        raise ValidationError({"host": ["A host name or IP address (no scheme, no port)."]})
    _check_address_literal("host", host)
    return host


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).version == 6
    except ValueError:
        return False


def _check_port(port) -> int:
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ValidationError({"port": ["A port number, 1-65535."]}) from None
    if not 1 <= port <= 65535:
        raise ValidationError({"port": ["A port number, 1-65535."]})
    return port


def _check_ca_pem(pem: str) -> str:
    pem = (pem or "").strip()
    if not pem:
        return ""
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ValidationError(
            {"tls_ca_pem": ["Not a PEM certificate (-----BEGIN CERTIFICATE-----...)."]}
        ) from None
    if not certificates:
        raise ValidationError({"tls_ca_pem": ["No certificate in this PEM."]})
    return pem + "\n"


def _check_recipients(text: str) -> str:
    addresses = [a.strip() for a in (text or "").replace(";", ",").split(",") if a.strip()]
    if not addresses:
        raise ValidationError({"email_to": ["At least one email address."]})
    if len(addresses) > MAX_RECIPIENTS:
        raise ValidationError({"email_to": [f"At most {MAX_RECIPIENTS} addresses."]})
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"email_to": [f"{address!r} is not an email address."]}) from None
    return ", ".join(addresses)


def _check_secret(kind: str, secret: str) -> str:
    secret = (secret or "").strip()
    if kind == Destination.Kind.WEBHOOK:
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not secret.startswith("whsec_") or not 24 <= len(key) <= 64:
            raise ValidationError(
                {
                    "secret": [
                        "whsec_ followed by 24 to 64 random bytes in base64 (Standard Webhooks)."
                    ]
                }
            )
    elif kind == Destination.Kind.SPLUNK_HEC and not 8 <= len(secret) <= 200:
        raise ValidationError({"secret": ["The HEC token (a GUID from Splunk)."]})
    return secret


def _check_filters(values: dict) -> None:
    if values["min_severity"] not in SEVERITIES:
        raise ValidationError({"min_severity": [f"One of {', '.join(SEVERITIES)}."]})
    unknown = [k for k in values["kinds"] if k not in RULES_BY_KIND]
    if unknown:
        raise ValidationError({"kinds": [f"Unknown finding kinds: {', '.join(unknown)}."]})
    if values["group_by"] not in Destination.GroupBy.values:
        raise ValidationError({"group_by": ["Not a grouping the console knows."]})
    if values["event_format"] not in Destination.EventFormat.values:
        raise ValidationError({"event_format": ["One of json, cef, ocsf."]})
    limits = {
        "group_wait_seconds": (0, 3600),
        "group_interval_seconds": (1, 86400),
        "repeat_interval_seconds": (60, 7 * 86400),
    }
    for name, (low, high) in limits.items():
        value = values[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValidationError({name: [f"Seconds, {low} to {high}."]})
    if values["repeat_interval_seconds"] < values["group_interval_seconds"]:
        raise ValidationError(
            {
                "repeat_interval_seconds": [
                    "At least the group interval (repeats happen on its ticks)."
                ]
            }
        )


def clean(kind: str, values: dict) -> dict:
    """`values` (EDITABLE fields) checked for a destination of `kind`; the wire fields other
    kinds use are emptied."""
    if kind not in Destination.Kind.values:
        raise ValidationError({"kind": [f"One of {', '.join(Destination.Kind.values)}."]})
    values = dict(values)
    name = (values.get("name") or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": ["A name, up to 100 characters."]})
    values["name"] = name
    needs = NEEDS[kind]
    values["url"] = _check_url(values.get("url")) if "url" in needs else ""
    values["host"] = _check_host(values.get("host")) if "host" in needs else ""
    values["port"] = _check_port(values.get("port")) if "port" in needs else None
    transport = values.get("syslog_transport") or ""
    if "syslog_transport" in needs and transport not in Destination.SyslogTransport.values:
        raise ValidationError({"syslog_transport": ["tcp or tls."]})
    values["syslog_transport"] = transport if "syslog_transport" in needs else ""
    values["tls_ca_pem"] = _check_ca_pem(values.get("tls_ca_pem"))
    if values["tls_ca_pem"] and kind == Destination.Kind.SYSLOG and transport != "tls":
        raise ValidationError({"tls_ca_pem": ["A CA is only used with the TLS transport."]})
    if kind == Destination.Kind.EMAIL and values["tls_ca_pem"]:
        raise ValidationError({"tls_ca_pem": ["Email uses the site's mail server settings."]})
    values["email_to"] = _check_recipients(values.get("email_to")) if "email_to" in needs else ""
    if kind == Destination.Kind.EMAIL and values.get("forward_events"):
        raise ValidationError({"forward_events": ["Email does not take the audit-event stream."]})
    _check_filters(values)
    return values


def _defaults() -> dict:
    blank = Destination()
    return {name: getattr(blank, name) for name in EDITABLE}


# --- Writes ----------------------------------------------------------------------------------


def snapshot(destination: Destination) -> dict:
    return model_snapshot(destination)


def _save(destination: Destination) -> None:
    try:
        with transaction.atomic():
            destination.save()
    except IntegrityError:
        raise ValidationError({"name": ["A destination with this name exists."]}) from None
    if destination.forward_events:  # the stream starts at the chain head as it is switched on
        forwarding.start_cursor(destination)


def create_destination(*, actor, kind: str, values: dict, secret: str = "", request=None):
    """Add a destination; webhook and HEC need their secret, stored encrypted."""
    values = clean(kind, {**_defaults(), **values})
    if kind in SECRET_KINDS:
        secret = _check_secret(kind, secret)
    with transaction.atomic():
        destination = Destination(kind=kind, created_by=_user(actor), **values)
        destination.secret_encrypted = secrets.encrypt(secret) if kind in SECRET_KINDS else ""
        _save(destination)
        record_admin_action(
            actor=actor,
            action="destination.created",
            obj=destination,
            after=snapshot(destination),
            request=request,
        )
    return destination


def update_destination(
    *, actor, destination: Destination, values: dict, secret: str = "", request=None
):
    """Change what `values` gives (the kind stays); a non-empty `secret` replaces the stored
    one, an empty one keeps it."""
    with transaction.atomic():
        destination = Destination.objects.select_for_update().get(pk=destination.pk)
        before = snapshot(destination)
        if "kind" in values and values["kind"] != destination.kind:
            raise ValidationError({"kind": ["The kind cannot change: add a new destination."]})
        current = {name: getattr(destination, name) for name in EDITABLE}
        cleaned = clean(destination.kind, {**current, **_only_editable(values)})
        for name, value in cleaned.items():
            setattr(destination, name, value)
        if secret and destination.kind in SECRET_KINDS:
            destination.secret_encrypted = secrets.encrypt(_check_secret(destination.kind, secret))
        _save(destination)
        record_admin_action(
            actor=actor,
            action="destination.updated",
            obj=destination,
            before=before,
            after=snapshot(destination),
            request=request,
        )
    return destination


def delete_destination(*, actor, destination: Destination, request=None) -> None:
    """Remove a destination with its groups, deliveries and forwarding cursor."""
    with transaction.atomic():
        record_admin_action(
            actor=actor,
            action="destination.deleted",
            obj=destination,
            before=snapshot(destination),
            request=request,
        )
        destination.delete()


def _only_editable(values: dict) -> dict:
    return {k: v for k, v in values.items() if k in EDITABLE}


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


# --- Send test -------------------------------------------------------------------------------


def make_test_message(destination: Destination) -> transports.OutgoingMessage:
    """A message of event_type "test": no finding, the destination's name, a fresh key."""
    now = timezone.now()
    return transports.OutgoingMessage(
        idempotency_key=f"test-{destination.pk}-{uuid.uuid4().hex[:16]}",
        event_type="test",
        subject=f"Test message from the MCP governance console to {destination.name}",
        severity="info",
        body=formats.findings_body("test", [], labels={"destination": destination.name}),
        timestamp=now.timestamp(),
    )


def send_test(
    destination: Destination, by, *, request=None, timeout: float = 10.0
) -> SendTestResult:
    """Send a test message now (outside any transaction: it waits on the network), record
    the outcome on the destination and in the admin log, and return it."""
    try:
        transports.deliver(destination, make_test_message(destination), timeout=timeout)
        result = SendTestResult(ok=True, detail="Delivered.", at=timezone.now())
    except transports.DeliveryFailed as exc:
        result = SendTestResult(
            ok=False, detail=exc.detail[:500], at=timezone.now(), retryable=exc.retryable
        )
    with transaction.atomic():
        Destination.objects.filter(pk=destination.pk).update(
            last_test_at=result.at, last_test_ok=result.ok, last_test_detail=result.detail
        )
        record_admin_action(
            actor=by,
            action="destination.tested",
            obj=destination,
            note=("ok" if result.ok else f"failed: {result.detail}")[:500],
            request=request,
        )
    destination.last_test_at, destination.last_test_ok = result.at, result.ok
    destination.last_test_detail = result.detail
    return result
