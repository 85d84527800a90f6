"""IdP connections and syncs. App label `governance` (governance/models.py imports them)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from governance.platform.jobs import Job, one_open_job_per


class IdpConnection(models.Model):
    """One identity provider or authorization server the console reads grants from and revokes
    through. The credential is stored encrypted (FIELD_ENCRYPTION_KEY) and never shown again."""

    class Kind(models.TextChoices):
        OKTA = "okta", "Okta"
        ENTRA = "entra", "Microsoft Entra ID"
        KEYCLOAK = "keycloak", "Keycloak"
        AUTH0 = "auth0", "Auth0"
        GOOGLE = "google", "Google Workspace"
        OAUTH = "oauth", "OAuth 2.0 / OIDC authorization server"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    config = models.JSONField(
        default=dict, blank=True, help_text="Non-secret settings: domain, tenant, client id, ..."
    )
    # Fernet token (MultiFernet over FIELD_ENCRYPTION_KEY): never logged, never in an API answer.
    secret_encrypted = models.TextField(blank=True)
    secret_set_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    sync_interval_minutes = models.PositiveIntegerField(
        default=60, help_text="How often beat starts a sync; 0 = only when asked."
    )
    is_demo = models.BooleanField(default=False, help_text="Made by the demo data, not real.")
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_result = models.JSONField(default=list, blank=True)
    # Each part's incremental state (Graph: {"grants": deltaLink}), written only when a sync
    # succeeds: an interrupted sync leaves the old one, so it simply runs again.
    sync_state = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["okta", "entra", "keycloak", "auth0", "google", "oauth"]),
                name="idpconnection_known_kind",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"


class IdpIssuer(models.Model):
    """An issuer a connection answers for: grants, identities and events from it resolve to the
    connection. An issuer belongs to one connection at most (the database says so)."""

    connection = models.ForeignKey(IdpConnection, on_delete=models.CASCADE, related_name="issuers")
    issuer = models.CharField(max_length=300, unique=True)

    class Meta:
        ordering = ["issuer"]

    def __str__(self):
        return self.issuer


class IdpSync(Job):
    """One sync of one connection: identities, clients and grants read from the IdP."""

    JOB_TARGET = ("connection",)

    connection = models.ForeignKey(IdpConnection, on_delete=models.CASCADE, related_name="syncs")
    full = models.BooleanField(default=False, help_text="Ignore incremental state (delta links).")
    seen = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    vanished = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text="Malformed records, reported.")

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [one_open_job_per("connection", name="one_open_sync_per_connection")]

    def __str__(self):
        return f"Sync of {self.connection.name} ({self.status})"
