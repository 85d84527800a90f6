"""What the console fetched from the outside world: the fetch log, CIMD document history, and the
OAuth metadata (protected resources and authorization servers) guarding MCP servers.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from inventory.models.core import Client, ServerRemote


class FetchRecord(models.Model):
    """One outbound fetch by inventory.fetch.safe_fetch: what, why, how it went (the fetch log)."""

    url = models.CharField(max_length=2000)
    final_url = models.CharField(max_length=2000, blank=True)
    purpose = models.CharField(
        max_length=40, db_index=True, help_text='"registry", "cimd", "prm", "as_metadata", ...'
    )
    method = models.CharField(max_length=10, default="GET")
    address = models.GenericIPAddressField(
        null=True, blank=True, help_text="The checked IP the fetch connected to."
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    bytes = models.PositiveIntegerField(default=0)
    elapsed_ms = models.FloatField(default=0)
    ok = models.BooleanField(default=False, db_index=True)
    error_reason = models.CharField(max_length=40, blank=True, db_index=True)
    error_message = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        # A client's page lists the latest fetches of its URL.
        indexes = [models.Index(fields=["url", "-at"], name="fetchrecord_url_at")]

    def __str__(self):
        return f"{self.purpose} {self.url} → {self.status_code or self.error_reason}"


class ClientDocumentState(models.Model):
    """Crawl state of one CIMD client's document: when fetched, how it went, when next due."""

    class Outcome(models.TextChoices):
        NEVER = "never", "Never fetched"
        OK = "ok", "Fetched, valid"
        INVALID = "invalid", "Fetched, invalid"
        FAILED = "failed", "Fetch failed"

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="cimd_state")
    current = models.ForeignKey(
        "ClientDocument",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The version last served.",
    )
    outcome = models.CharField(
        max_length=20, choices=Outcome.choices, default=Outcome.NEVER, db_index=True
    )
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_reason = models.CharField(max_length=40, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_fetch_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Due for re-fetch (cache headers, bounded)."
    )

    class Meta:
        ordering = ["client__client_id"]

    def __str__(self):
        return f"CIMD state of {self.client.client_id}"


class ClientDocument(models.Model):
    """One distinct version (by sha256 of the body) of a client's metadata document."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="cimd_documents")
    sha256 = models.CharField(max_length=64)
    content = models.JSONField(null=True, blank=True, help_text="Parsed document (None: not JSON).")
    raw = models.TextField(blank=True, help_text="The body as served (≤ the size cap).")
    problems = models.JSONField(default=list, blank=True)
    is_valid = models.BooleanField(default=False)
    first_fetched_at = models.DateTimeField()
    last_fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["client", "-first_fetched_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "sha256"], name="client_document_version"),
        ]

    def __str__(self):
        return f"{self.client.client_id} @ {self.sha256[:12]}"

    def previous(self):
        """The version first served just before this one, if any."""
        return (
            ClientDocument.objects.filter(client_id=self.client_id)
            .filter(
                Q(first_fetched_at__lt=self.first_fetched_at)
                | Q(first_fetched_at=self.first_fetched_at, id__lt=self.id)
            )
            .order_by("-first_fetched_at", "-id")
            .first()
        )


class AuthorizationServer(models.Model):
    """An OAuth authorization server (RFC 8414 / OIDC discovery) that guards MCP servers.

    It guards a server while one of the server's remotes' ProtectedResource names it
    (`queries.servers_guarded_by`); that link is derived, not stored here.
    """

    issuer = models.CharField(max_length=500, unique=True)
    metadata_url = models.CharField(max_length=1000, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    authorization_endpoint = models.CharField(max_length=1000, blank=True)
    token_endpoint = models.CharField(max_length=1000, blank=True)
    registration_endpoint = models.CharField(max_length=1000, blank=True)
    revocation_endpoint = models.CharField(max_length=1000, blank=True)
    introspection_endpoint = models.CharField(max_length=1000, blank=True)
    jwks_uri = models.CharField(max_length=1000, blank=True)
    scopes_supported = ArrayField(models.CharField(max_length=300), default=list, blank=True)
    code_challenge_methods = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    supports_pkce_s256 = models.BooleanField(default=False)
    cimd_supported = models.BooleanField(
        null=True, blank=True, help_text="client_id_metadata_document_supported"
    )
    open_registration = models.BooleanField(
        default=False, help_text="Offers a dynamic registration endpoint."
    )
    grant_types_supported = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    problems = models.JSONField(default=list, blank=True)
    fetch_ok = models.BooleanField(default=False)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["issuer"]

    def __str__(self):
        return self.issuer


class ProtectedResource(models.Model):
    """The RFC 9728 Protected Resource Metadata found for one server remote URL."""

    remote = models.OneToOneField(
        ServerRemote, on_delete=models.CASCADE, related_name="protected_resource"
    )
    prm_url = models.CharField(max_length=1000, blank=True)
    discovered_via = models.CharField(
        max_length=30,
        blank=True,
        help_text='"www-authenticate", "well-known-path", "well-known-root"',
    )
    resource = models.CharField(max_length=1000, blank=True)
    document = models.JSONField(default=dict, blank=True)
    scopes_supported = ArrayField(models.CharField(max_length=300), default=list, blank=True)
    challenge_scope = models.CharField(max_length=1000, blank=True)
    authorization_servers = models.ManyToManyField(
        AuthorizationServer, blank=True, related_name="protected_resources"
    )
    problems = models.JSONField(default=list, blank=True)
    fetch_ok = models.BooleanField(default=False)
    last_error = models.CharField(max_length=500, blank=True)
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["remote__url"]

    def __str__(self):
        return f"PRM of {self.remote.url}"
