"""Compliance reports (issue 16 §2-4): each generated file is an artifact row with its
parameters, who asked, size and SHA-256; schedules make them on beat's clock.

A `ReportRun` is a job (governance/platform/jobs.py): progress, heartbeat and the sweeper come
from the engine. Its file lives under REPORTS_DIR and is deleted with the row after
REPORTS_KEEP_DAYS; the row's digest and the chain head it names are what `verify_report` checks.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models

from governance.platform.jobs import Job, one_open_job_per


class ReportKind(models.TextChoices):
    ACCESS_INVENTORY = "access_inventory", "Access inventory"
    ACTIVITY_EVIDENCE = "activity_evidence", "Activity evidence"
    CAMPAIGN = "campaign", "Access-review campaign"
    REVOCATIONS = "revocations", "Revocations"
    FINDINGS = "findings", "Findings"
    INVENTORY_RISK = "inventory_risk", "Inventory risk"


class ReportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    JSON = "json", "JSON"
    PDF = "pdf", "PDF"


class ReportSchedule(models.Model):
    class Cadence(models.TextChoices):
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"
        QUARTERLY = "quarterly", "Quarterly"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=ReportKind.choices)
    format = models.CharField(max_length=10, choices=ReportFormat.choices)
    cadence = models.CharField(max_length=20, choices=Cadence.choices)
    params = models.JSONField(default=dict, blank=True, help_text="Filters besides the period.")
    email_to = models.CharField(max_length=1000, blank=True)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ReportRun(Job):
    """One report asked for (console, API, command or schedule), and the file it made."""

    # One open run per identical request (same kind, format, period and filters): asking twice
    # joins the first.
    JOB_TARGET = ("request_key",)

    kind = models.CharField(max_length=30, choices=ReportKind.choices)
    format = models.CharField(max_length=10, choices=ReportFormat.choices)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    request_key = models.CharField(max_length=64)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    title = models.CharField(max_length=300, blank=True)
    file_name = models.CharField(max_length=300, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    chain_head_seq = models.BigIntegerField(null=True, blank=True)
    chain_head_digest = models.CharField(max_length=64, blank=True)
    generated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [one_open_job_per("request_key", name="one_open_report_per_request")]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.format}) #{self.pk}"

    @property
    def period_last_day(self):
        """The period's last day, included (period_end is the midnight after it)."""
        return (self.period_end - timedelta(microseconds=1)).date() if self.period_end else None


class ReportDownload(models.Model):
    """Who downloaded a report file, and when (auditors ask who saw the evidence)."""

    run = models.ForeignKey(ReportRun, on_delete=models.CASCADE, related_name="downloads")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.run_id} by {self.user_id}"
