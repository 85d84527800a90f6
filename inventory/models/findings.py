"""Findings: what the console noticed that a security team must hear about (issue 14).

A finding was a "flag" before it had a triage workflow: rules (crawls, syncs, ingestion, the
schedule) raise them, people triage them. The table keeps the flag's columns so the SQL raisers
in the ingest path (derive_revoked, protocol_flags) stay set-based `INSERT … ON CONFLICT`.

Invariants held by the database, not by callers:
- one unresolved finding per kind, object and dedup key (`one_open_flag_per_subject`): raising
  it again refreshes it (last seen, times seen) instead of piling up duplicates;
- `status = 'resolved'` exactly when `resolved_at` is set, and a suppressed finding has an end;
- every change is in `FindingChange` and every finding opened (or escalated, or resolved) is in
  the delivery outbox `FindingNotice`: both written by triggers (migration 0014), so the SQL
  raisers, the triage services and a crash between them cannot skip one. The trigger takes the
  actor and note from the transaction's settings `findings.actor` / `findings.note`
  (`inventory.services.flags.acting_as`), "rule" when unset.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

__all__ = [
    "Finding",
    "FindingChange",
    "FindingNotice",
    "FindingQuerySet",
    "Flag",
    "SEVERITY_RANK",
]


class FindingQuerySet(models.QuerySet):
    def open(self):
        """Not resolved yet (open, acknowledged or suppressed): what a rule refreshes."""
        return self.exclude(status=Finding.Status.RESOLVED)

    def needs_attention(self):
        """Open, or suppressed past its end: what the console counts and delivers."""
        from django.utils import timezone

        return self.filter(
            Q(status=Finding.Status.OPEN)
            | Q(status=Finding.Status.SUPPRESSED, suppressed_until__lte=timezone.now())
        )


class Finding(models.Model):
    """One risky condition on one object, with its evidence and its triage state."""

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        SUPPRESSED = "suppressed", "Suppressed"
        RESOLVED = "resolved", "Resolved"

    class Resolution(models.TextChoices):
        NONE = "", "Not resolved"
        CLEARED = "cleared", "Condition cleared"  # the rule no longer sees it
        MANUAL = "manual", "Resolved by a person"

    kind = models.CharField(
        max_length=100,
        db_index=True,
        help_text='The rule that raised it, e.g. "identity.disabled_with_grants".',
    )
    severity = models.CharField(max_length=20, choices=Severity.choices, default=Severity.WARNING)
    object_type = models.CharField(max_length=100, help_text='e.g. "inventory.client"')
    object_id = models.CharField(max_length=100)
    object_repr = models.CharField(max_length=500, blank=True)
    dedup_key = models.CharField(max_length=300, blank=True, default="")
    summary = models.CharField(max_length=500)
    # Evidence: event ids (`event_ids`/`event_id`), grant ids (`grant_ids`), document versions
    # (`document_version_ids`), figures the rule measured; the detail page links what it knows.
    details = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField(db_index=True, help_text="First seen.")
    last_raised_at = models.DateTimeField(help_text="Last seen.")
    times_raised = models.PositiveIntegerField(default=1, help_text="Times seen.")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OPEN, db_default=Status.OPEN
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=200, blank=True)
    resolution = models.CharField(
        max_length=20, choices=Resolution.choices, blank=True, default="", db_default=""
    )
    resolution_note = models.TextField(blank=True, default="", db_default="")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=200, blank=True, default="", db_default="")
    suppressed_until = models.DateTimeField(null=True, blank=True)
    suppress_reason = models.TextField(blank=True, default="", db_default="")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_findings",
    )

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-last_raised_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["status", "severity"], name="finding_status_severity"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "object_type", "object_id", "dedup_key"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_flag_per_subject",
            ),
            models.CheckConstraint(
                condition=Q(status="resolved", resolved_at__isnull=False)
                | (~Q(status="resolved") & Q(resolved_at__isnull=True)),
                name="finding_resolved_iff_resolved_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="suppressed") | Q(suppressed_until__isnull=False),
                name="finding_suppression_has_an_end",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=["info", "warning", "high", "critical"]),
                name="finding_severity_known",
            ),
        ]

    def __str__(self):
        return f"[{self.severity}] {self.summary}"


# The name the model had before findings had triage; older code and SQL talk of flags.
Flag = Finding

SEVERITY_RANK = {"info": 0, "warning": 1, "high": 2, "critical": 3}


class FindingChange(models.Model):
    """One change of a finding (who, when, what): written by the trigger, never by hand."""

    class Action(models.TextChoices):
        OPENED = "opened", "Opened"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        SUPPRESSED = "suppressed", "Suppressed"
        REOPENED = "reopened", "Reopened"
        RESOLVED = "resolved", "Resolved"
        CLEARED = "cleared", "Resolved: condition cleared"
        ASSIGNED = "assigned", "Assignee changed"
        SEVERITY = "severity", "Severity changed"

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField(db_default=models.functions.Now())
    actor = models.CharField(max_length=200, help_text='A username, or "rule".')
    action = models.CharField(max_length=20, choices=Action.choices)
    from_value = models.CharField(max_length=200, blank=True, default="")
    to_value = models.CharField(max_length=200, blank=True, default="")
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["finding", "at", "id"]

    def __str__(self):
        return f"{self.finding_id} {self.action} by {self.actor}"


class FindingNotice(models.Model):
    """The delivery outbox: a finding opened, escalated or resolved, waiting to be routed to the
    destinations whose filters match (governance/alerts). Written by the trigger in the same
    transaction as the change, so a notice is never lost; `routed_at` marks it handled."""

    class Reason(models.TextChoices):
        OPENED = "opened", "Opened"
        ESCALATED = "escalated", "Severity raised"
        RESOLVED = "resolved", "Resolved"

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="notices")
    at = models.DateTimeField(db_default=models.functions.Now())
    reason = models.CharField(max_length=20, choices=Reason.choices)
    routed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"], condition=Q(routed_at__isnull=True), name="findingnotice_unrouted"
            )
        ]

    def __str__(self):
        return f"{self.reason} {self.finding_id}"
