"""Where findings and audit events go (issue 14 §4-5): destinations, alert groups, deliveries
and the forwarding cursors.

- A `Destination` is an Admin-configured receiver (webhook, Splunk HEC, syslog, email) with a
  filter (minimum severity, kinds) for findings, and optionally a stream of audit events in a
  format of its choice. Its secret (webhook signing secret, HEC token) is encrypted at rest.
- Findings reach a destination through an `AlertGroup` (Alertmanager's grouping: one message per
  group per interval, with a count) and each message is a `Delivery` row: at least once, with its
  idempotency key (the Standard Webhooks `webhook-id`, HEC's event id, the syslog msgid, the
  email's Message-ID), retried with backoff, dead-lettered after its attempts, replayable.
- Audit events stream through a `ForwardCursor` per destination: the last sealed batch sent
  (the chain's `seq` is the order events became durable, so no event commits behind the cursor).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class Destination(models.Model):
    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (Standard Webhooks)"
        SPLUNK_HEC = "splunk_hec", "Splunk HTTP Event Collector"
        SYSLOG = "syslog", "Syslog (RFC 5424, CEF)"
        EMAIL = "email", "Email"

    class SyslogTransport(models.TextChoices):
        TCP = "tcp", "TCP"
        TLS = "tls", "TLS"

    class EventFormat(models.TextChoices):
        JSON = "json", "Canonical JSON"
        CEF = "cef", "CEF"
        OCSF = "ocsf", "OCSF API Activity"

    class GroupBy(models.TextChoices):
        KIND = "kind", "Rule (kind)"
        KIND_SEVERITY = "kind_severity", "Rule and severity"
        OBJECT = "object", "Object"
        NONE = "none", "Each finding alone"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    # webhook and HEC: the URL to POST to
    url = models.URLField(max_length=1000, blank=True)
    # syslog: host, port and transport; TLS (like HTTPS) trusts the system's store, the bundled
    # public CAs and `tls_ca_pem` when given (a private CA): http_wire.trust_context
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    syslog_transport = models.CharField(
        max_length=10, choices=SyslogTransport.choices, blank=True, default=""
    )
    tls_ca_pem = models.TextField(blank=True, help_text="PEM of the CA to trust (optional).")
    # webhook signing secret (whsec_...), HEC token: encrypted (governance.access.secrets)
    secret_encrypted = models.TextField(blank=True)
    # email: recipients, comma-separated
    email_to = models.CharField(max_length=1000, blank=True)

    # findings: which ones, and how they are grouped (Alertmanager's group_wait,
    # group_interval, repeat_interval)
    send_findings = models.BooleanField(default=True)
    min_severity = models.CharField(max_length=20, default="high")
    kinds = ArrayField(
        models.CharField(max_length=100), default=list, blank=True, help_text="Empty: all kinds."
    )
    send_resolved = models.BooleanField(default=False)
    group_by = models.CharField(max_length=20, choices=GroupBy.choices, default=GroupBy.KIND)
    group_wait_seconds = models.PositiveIntegerField(default=1)
    group_interval_seconds = models.PositiveIntegerField(default=300)
    repeat_interval_seconds = models.PositiveIntegerField(default=4 * 3600)

    # audit events: streamed when on, in this format
    forward_events = models.BooleanField(default=False)
    event_format = models.CharField(
        max_length=10, choices=EventFormat.choices, default=EventFormat.JSON
    )

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["webhook", "splunk_hec", "syslog", "email"]),
                name="destination_kind_known",
            ),
            models.CheckConstraint(
                condition=Q(min_severity__in=["info", "warning", "high", "critical"]),
                name="destination_min_severity_known",
            ),
        ]

    def __str__(self):
        return self.name


class AlertGroup(models.Model):
    """The findings routed to one destination under one group key, waiting to be sent together.

    `pending_finding_ids` collects what arrived since the last message; `first_pending_at` starts
    the group_wait (a new group) or the group_interval (after `last_sent_at`); `notified_ids` are
    the findings the last message named, re-sent after repeat_interval while still open."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="groups")
    group_key = models.CharField(max_length=400)
    labels = models.JSONField(default=dict, blank=True)
    pending_finding_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    pending_count = models.PositiveIntegerField(default=0)
    first_pending_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    notified_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "group_key"], name="one_alert_group_per_key"
            )
        ]
        indexes = [
            models.Index(
                fields=["first_pending_at"],
                condition=Q(first_pending_at__isnull=False),
                name="alertgroup_pending",
            )
        ]

    def __str__(self):
        return f"{self.destination}: {self.group_key}"


class Delivery(models.Model):
    """One message to one destination, delivered at least once under its idempotency key."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        DEAD = "dead", "Dead letter"

    class Purpose(models.TextChoices):
        FINDINGS = "findings", "Findings"
        TEST = "test", "Test message"
        REPORT = "report", "Scheduled report"

    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="deliveries"
    )
    group = models.ForeignKey(
        AlertGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.FINDINGS)
    idempotency_key = models.CharField(max_length=100, unique=True)
    payload = models.JSONField(help_text="What is sent, before the destination's framing.")
    finding_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Set while a worker sends it: a claim older than DELIVERY_CLAIM_TIMEOUT_SECONDS (the worker
    # died mid-send) is taken again, and the receiver sees the same idempotency key twice.
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)
    replayed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due",
            ),
            models.Index(fields=["destination", "status"], name="delivery_by_destination"),
        ]

    def __str__(self):
        return f"{self.destination} {self.purpose} {self.idempotency_key}"


class ForwardCursor(models.Model):
    """How far a destination's audit-event stream has got: events of sealed batches up to
    `batch_seq` have been accepted by the receiver. Advanced in the same transaction that
    records the send, after the receiver said yes: a crash re-sends (same event ids), never
    skips."""

    destination = models.OneToOneField(
        Destination, on_delete=models.CASCADE, related_name="forward_cursor"
    )
    batch_seq = models.BigIntegerField(default=0)
    events_forwarded = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    last_forwarded_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.destination} at seq {self.batch_seq}"
