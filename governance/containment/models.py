"""A revocation is a job row with ordered steps (issue 13 §2).

The job engine gives the revocation its status, run token, heartbeat, attempts and the sweeper
that resumes it after a worker dies; each step keeps its own state so a resumed run never redoes
a step that is done (and a step that was running when the worker died is redone only after a
confirming read: every IdP call here is idempotent).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from governance.platform.jobs import Job, one_open_job_per


class Revocation(Job):
    """One containment action an Admin confirmed: what it acts on, why, and how it ended."""

    class Action(models.TextChoices):
        GRANT = "grant", "Revoke one grant"
        IDENTITY_CLIENT = "identity_client", "Revoke what an identity granted a client"
        IDENTITY = "identity", "Cut off an identity everywhere"
        CLIENT = "client", "Kill switch for a client"
        BULK = "bulk", "Bulk revoke of matching grants"
        UNDO = "undo", "Undo (reactivate)"

    class Outcome(models.TextChoices):
        NONE = "", "Not finished"
        DONE = "done", "Done"
        PARTIAL = "partial", "Partially done"
        FAILED = "failed", "Failed"

    class Proof(models.TextChoices):
        PENDING = "", "Not checked yet"
        VERIFIED = "verified", "Verified"
        NOT_VERIFIED = "not_verified", "Not verified"

    # At most one open revocation per target ("grant:12", "identity:3:client:5", "client:5",
    # "bulk:<sha256 of the filter>", "undo:<revocation id>"): confirming twice joins the first.
    JOB_TARGET = ("target_key",)

    action = models.CharField(max_length=20, choices=Action.choices)
    target_key = models.CharField(max_length=200)
    reason = models.TextField(help_text="Why, as the Admin wrote it (required).")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    grant = models.ForeignKey(
        "inventory.Grant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    identity = models.ForeignKey(
        "inventory.Identity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    client = models.ForeignKey(
        "inventory.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Bulk: the grant list's filter (its query parameters) and the grant ids it matched when the
    # Admin confirmed (capped): the revocation acts on those, not on what matches later.
    filter_params = models.JSONField(default=dict, blank=True)
    grant_ids = models.JSONField(default=list, blank=True)
    # The dry run the Admin confirmed: {"grants": n, "tokens": n, "sessions": n, "tasks": n,
    # "idps": [names], "clients": n} (plan.Plan.as_dict()).
    plan = models.JSONField(default=dict, blank=True)
    undoes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="undone_by"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True, default="")
    proof = models.CharField(max_length=20, choices=Proof.choices, blank=True, default="")
    # What revocation cannot close: [{"what": "...", "until": iso or None}], and the latest end.
    residual = models.JSONField(default=list, blank=True)
    residual_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [one_open_job_per("target_key", name="one_open_revocation_per_target")]

    def __str__(self):
        return f"{self.get_action_display()} #{self.pk}"


class RevocationStep(models.Model):
    """One IdP call, task action or verification of a revocation, run in `position` order."""

    class Kind(models.TextChoices):
        CALL = "call", "IdP call"
        TASK = "task", "Task action"
        LOCAL = "local", "Console state"
        VERIFY = "verify", "Verification"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    revocation = models.ForeignKey(Revocation, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # What the runner does, e.g. "revoke", "revoke_user_client", "cut_off_identity",
    # "deactivate", "revoke_client_grants", "reactivate", "cancel_tasks", "mark_orphaned",
    # "block_client", "verify_absent", "verify_introspection", "verify_client_inactive".
    operation = models.CharField(max_length=40)
    connection = models.ForeignKey(
        "governance.IdpConnection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The ids the step acts on (grant external id, subject, client_id, task ids): never a token.
    target = models.JSONField(default=dict, blank=True)
    description = models.CharField(max_length=300, help_text="What the step does, for the page.")
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Summaries of what was sent and answered (method, URL path, status, the IdP's error code and
    # message): never a secret, never a token.
    request_summary = models.JSONField(default=dict, blank=True)
    response_summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, help_text="The IdP's message when the step failed.")
    # Verification steps: verified or not, and the evidence ("not listed by Okta", "introspection
    # active=false", "app status INACTIVE").
    verified = models.BooleanField(null=True, blank=True)
    evidence = models.TextField(blank=True)

    class Meta:
        ordering = ["revocation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["revocation", "position"], name="revocation_step_position_unique"
            ),
            models.CheckConstraint(
                condition=~Q(state="done", kind="verify") | Q(verified__isnull=False),
                name="revocation_step_verify_says_verified",
            ),
        ]

    def __str__(self):
        return f"{self.revocation_id}.{self.position} {self.operation} ({self.state})"

    @property
    def public_target(self) -> dict:
        """The target as pages and the API may show it: without the encrypted token value a
        token step carries (its `token_hint`, 6 characters, stays)."""
        return {k: v for k, v in (self.target or {}).items() if not k.endswith("_encrypted")}
