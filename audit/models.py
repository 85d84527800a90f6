"""Audit: what happened. Event sources, the append-only event store, the integrity chain.

The events table itself (`audit_event`) is a PostgreSQL partitioned table created by raw SQL in
the migrations (Django cannot declare partitioning); `AuditEvent` maps it read-only. Exactly-once
lives in `audit_event_dedup` (source, event id), which is not partitioned, so a retry of an old
event is recognised whatever partition the original landed in.
"""

from __future__ import annotations

from django.db import models


class StoredJSONField(models.JSONField):
    """JSONField over a `json` column: psycopg hands back parsed values, not text."""

    def from_db_value(self, value, expression, connection):
        if value is None or not isinstance(value, str):
            return value
        return super().from_db_value(value, expression, connection)


class EventSource(models.Model):
    """A gateway or MCP server allowed to send events, with its bearer token (stored hashed)."""

    class Kind(models.TextChoices):
        GATEWAY = "gateway", "Gateway"
        SERVER = "server", "MCP server"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.GATEWAY)
    # sha256 of the token: tokens are 256-bit random, so a fast hash is as good as a slow one.
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(
        max_length=16, help_text="First characters, to tell tokens apart."
    )
    enabled = models.BooleanField(default=True)
    retention_days = models.PositiveIntegerField(default=90)
    rate_limit_per_minute = models.PositiveIntegerField(
        default=0, help_text="Requests per minute before 429; 0 means the site default."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    token_rotated_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Validated by audit.otlp_attributes.validate_mapping when an Admin saves it.
    otlp_attribute_map = models.JSONField(
        default=dict,
        blank=True,
        help_text="OTLP attribute names this source uses for canonical fields, read after the "
        'built-in ones: {"client.id": ["gw.app_id"], ...}.',
    )

    # The cancel hook (docs/events.md "Cancel hook"): the console POSTs orphaned task ids here,
    # signed (Standard Webhooks), and the gateway sends `tasks/cancel` in the session. The secret
    # is encrypted at rest (governance.access.secrets), never shown again.
    cancel_hook_url = models.URLField(max_length=1000, blank=True)
    cancel_hook_secret_encrypted = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # The mapping is read on every OTLP export: never a list or a scalar.
            models.CheckConstraint(
                condition=models.lookups.Exact(
                    models.Func(
                        models.F("otlp_attribute_map"),
                        function="jsonb_typeof",
                        output_field=models.CharField(),
                    ),
                    "object",
                ),
                name="eventsource_otlp_attribute_map_is_object",
            ),
        ]

    def __str__(self):
        return self.name


class AuditEvent(models.Model):
    """One stored canonical event (read-only mapping of the partitioned `audit_event` table)."""

    id = models.BigIntegerField(primary_key=True)
    time = models.DateTimeField()
    received_at = models.DateTimeField()
    source = models.ForeignKey(
        EventSource, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    batch_id = models.BigIntegerField()
    event_id = models.TextField()
    type = models.TextField()
    actor_issuer = models.TextField()
    actor_subject = models.TextField()
    client_ref = models.TextField(help_text="The event's client.id (OAuth client_id).")
    server_name = models.TextField()
    method = models.TextField()
    tool = models.TextField()
    task_id = models.TextField()
    session_id = models.TextField()
    outcome = models.TextField()
    duration_ms = models.FloatField(null=True)
    redacted = models.BooleanField()
    payload = StoredJSONField()

    class Meta:
        managed = False
        db_table = "audit_event"
        ordering = ["-time", "-id"]

    def __str__(self):
        return f"{self.event_id} {self.type}"


class EventBatch(models.Model):
    """One accepted batch: its content hash, then (once sealed) its digest chained to the
    previous batch's digest.

    The ingest transaction stores the content hash; sealing appends the batch to the chain in
    a separate short transaction right after the commit (audit/services/seal.py), so the chain
    head's lock is never held across a durable commit's fsync.
    """

    source = models.ForeignKey(EventSource, on_delete=models.PROTECT, related_name="batches")
    received_at = models.DateTimeField(db_index=True)
    event_count = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64, help_text="sha256 over the stored rows.")
    seq = models.BigIntegerField(
        unique=True,
        null=True,
        blank=True,
        help_text="Position in the chain (1, 2, ...); empty until sealed.",
    )
    prev_digest = models.CharField(max_length=64, blank=True)
    digest = models.CharField(max_length=64, blank=True)
    sealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self):
        return f"batch {self.pk} (#{self.seq})"


class ChainHead(models.Model):
    """The single row every batch locks to append itself to the chain (id is always 1)."""

    seq = models.BigIntegerField(default=0)
    digest = models.CharField(max_length=64)
    batch_id = models.BigIntegerField(null=True)

    def __str__(self):
        return f"chain head #{self.seq}"


class ChainVerification(models.Model):
    """One run of verify_audit_chain, shown on the audit page."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    since = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField()
    batches_checked = models.PositiveIntegerField(default=0)
    events_checked = models.BigIntegerField(default=0)
    first_broken_batch = models.BigIntegerField(null=True, blank=True)
    problem = models.TextField(blank=True)
    triggered_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"verification {self.started_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'BROKEN'}"


class EventRollupHourly(models.Model):
    """Events per hour by source, server, tool, method and outcome (maintained at ingest)."""

    hour = models.DateTimeField()
    source = models.ForeignKey(EventSource, on_delete=models.CASCADE, related_name="+")
    server_name = models.TextField()
    tool = models.TextField()
    method = models.TextField()
    outcome = models.TextField()
    events = models.BigIntegerField()
    duration_ms_sum = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "source", "server_name", "tool", "method", "outcome"],
                name="event_rollup_hourly_key",
            ),
        ]
        indexes = [models.Index(fields=["server_name", "hour"])]


class ServerRollupHourly(models.Model):
    """Events per hour by source, server and outcome: the small rollup the dashboard's time
    series, totals and per-server outcomes read (the tool-level one is ~30x larger)."""

    hour = models.DateTimeField()
    source = models.ForeignKey(EventSource, on_delete=models.CASCADE, related_name="+")
    server_name = models.TextField()
    outcome = models.TextField()
    events = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "source", "server_name", "outcome"], name="server_rollup_hourly_key"
            ),
        ]


class IdentityRollupHourly(models.Model):
    """Events per hour by acting identity (issuer, subject), maintained at ingest."""

    hour = models.DateTimeField()
    actor_issuer = models.TextField()
    actor_subject = models.TextField()
    events = models.BigIntegerField()
    errors = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "actor_issuer", "actor_subject"], name="identity_rollup_hourly_key"
            ),
        ]


class ClientRollupHourly(models.Model):
    """Events per hour by client (the event's client.id), maintained at ingest: the activity
    evidence report's "events by client" over months of events without scanning them, and the
    error-spike rule's baseline (`errors` counts errors and denials)."""

    hour = models.DateTimeField()
    client_ref = models.TextField()
    events = models.BigIntegerField()
    errors = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "client_ref"], name="client_rollup_hourly_key"),
        ]


class EventDedup(models.Model):
    """The exactly-once key (source, event id) of every stored event (table made by raw SQL)."""

    pk = models.CompositePrimaryKey("source_id", "event_id")
    source_id = models.BigIntegerField()
    event_id = models.TextField()
    time = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "audit_event_dedup"


class RateWindow(models.Model):
    """Requests per source per minute for the ingest rate limit (UNLOGGED table, raw SQL)."""

    pk = models.CompositePrimaryKey("source_id", "window_start")
    source_id = models.BigIntegerField()
    window_start = models.DateTimeField()
    requests = models.IntegerField()

    class Meta:
        managed = False
        db_table = "audit_rate_window"
