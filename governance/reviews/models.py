"""Access-review campaigns (issue 16 §1): who reviews which grants, what they decided, and the
frozen record an auditor is handed once the campaign closes.

A campaign's items are the grants in its scope when it opened (one item per grant), each with
its reviewer and the context snapshot shown in the queue. Closing carries out the "revoke"
decisions through containment revocations (with their proof) and freezes the record: every
item, reviewer, decision, justification and time and each revocation's outcome, as JSON with
its SHA-256.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class Campaign(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSING = "closing", "Closing"  # revocations of the revoke decisions are running
        CLOSED = "closed", "Closed"

    class ReviewerRule(models.TextChoices):
        CLIENT_OWNER = "client_owner", "The client's owner"
        IDENTITY_OWNER = "identity_owner", "The identity's owner or manager"
        NAMED = "named", "Named users"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    # {"idp_connection_ids": [...], "client_ids": [...], "server_ids": [...], "scopes": [...],
    #  "grant_types": [...], "unused_days": 90}: every key optional (governance/reviews/scope.py)
    scope = models.JSONField(default=dict, blank=True)
    reviewer_rule = models.CharField(
        max_length=20, choices=ReviewerRule.choices, default=ReviewerRule.NAMED
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="review_campaigns"
    )
    # Who reviews an item whose owner is unknown or not a console user.
    fallback_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_at = models.DateTimeField()
    remind_days_before = ArrayField(models.PositiveIntegerField(), default=list, blank=True)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The frozen record (written once, at close) and its SHA-256 over the canonical JSON.
    record = models.JSONField(null=True, blank=True)
    record_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(closed_at__isnull=False),
                name="campaign_closed_has_time",
            )
        ]

    def __str__(self):
        return self.name


class ReviewItem(models.Model):
    class Decision(models.TextChoices):
        PENDING = "", "Not decided"
        KEEP = "keep", "Keep"
        REVOKE = "revoke", "Revoke"
        REDUCE = "reduce", "Reduce scopes"

    class Recommendation(models.TextChoices):
        KEEP = "keep", "Keep"
        REVOKE = "revoke", "Revoke"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    grant = models.ForeignKey(
        "inventory.Grant", null=True, on_delete=models.SET_NULL, related_name="review_items"
    )
    # What the reviewer saw when the item was made: who, which agent, which server, scopes,
    # grant type, issued, expires, last used, open findings (kept even if the grant goes).
    context = models.JSONField(default=dict)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="review_items",
    )
    recommendation = models.CharField(max_length=10, choices=Recommendation.choices)
    recommendation_reason = models.CharField(max_length=300, blank=True)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True, default="")
    keep_scopes = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    justification = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    revocation = models.ForeignKey(
        "governance.Revocation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="review_items",
    )
    outcome = models.CharField(max_length=300, blank=True, help_text="What closing did.")

    class Meta:
        ordering = ["campaign", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "grant"], name="one_review_item_per_grant"),
            # Keeping what the console recommends revoking needs a written reason.
            models.CheckConstraint(
                condition=~(Q(decision="keep") & Q(recommendation="revoke")) | ~Q(justification=""),
                name="review_keep_against_advice_justified",
            ),
            models.CheckConstraint(
                condition=Q(decision="") | Q(decided_at__isnull=False),
                name="review_decision_has_time",
            ),
        ]
        indexes = [models.Index(fields=["reviewer", "decision"], name="reviewitem_queue")]

    def __str__(self):
        return f"{self.campaign_id}/{self.pk} {self.decision or 'pending'}"
