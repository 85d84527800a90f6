"""What MCP peers declared and did at the protocol level (issue 15), derived from audit events.

Per session the revision offered and negotiated; per client and per server the capabilities,
extensions and clientInfo/serverInfo they declared, with a history row each time that changes;
URL-mode elicitations (origin only: the rest of a URL may carry tokens); sampling requests that
offer tools. Written set-based by inventory/services/derive_protocol.py inside the ingest
transaction. Natural keys use the event's names (server name, client ref) so a batch can upsert
without looking ids up first; the foreign keys beside them serve joins and pages.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from inventory.models.core import Client, Identity, Server

__all__ = [
    "PROTOCOL_REVISIONS",
    "MINIMUM_REVISION_SETTING",
    "PeerRole",
    "ProtocolProfile",
    "ProtocolProfileChange",
    "ProtocolSession",
    "UrlElicitation",
    "ElicitationOriginAllowance",
    "SamplingRequest",
]

# Known revisions, oldest first: the order "older than the minimum" is judged by.
PROTOCOL_REVISIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")
# The SiteSetting an Admin sets to flag sessions negotiated below it (governance.access).
MINIMUM_REVISION_SETTING = "protocol.minimum_revision"


class PeerRole(models.TextChoices):
    CLIENT = "client", "Client"
    SERVER = "server", "Server"


class ProtocolProfile(models.Model):
    """The latest declaration of one client or server: capabilities, extensions, *Info."""

    role = models.CharField(max_length=10, choices=PeerRole.choices)
    # The event's client.id or server name: the natural key with `role`.
    peer_ref = models.CharField(max_length=500)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="protocol_profiles"
    )
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.CASCADE, related_name="protocol_profiles"
    )
    # Capped and normalised (derive_protocol.py): never more than a few KB whatever was sent.
    capabilities = models.JSONField(default=dict, blank=True)
    capabilities_invalid = models.BooleanField(
        default=False, help_text="The peer sent capabilities that were not an object."
    )
    extensions = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    extensions_dropped = models.PositiveIntegerField(
        default=0, help_text="Extensions beyond the stored cap (or not valid names)."
    )
    info_name = models.CharField(max_length=300, blank=True)
    info_version = models.CharField(max_length=255, blank=True)
    info_title = models.CharField(max_length=300, blank=True)
    info_website = models.CharField(max_length=1000, blank=True)
    protocol_version = models.CharField(max_length=50, blank=True)
    # Derived from capabilities, for the list filters (clients only).
    sampling = models.BooleanField(default=False)
    sampling_tools = models.BooleanField(default=False)
    elicitation_url = models.BooleanField(default=False)
    content_hash = models.CharField(max_length=64)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["role", "peer_ref"]
        constraints = [
            models.UniqueConstraint(fields=["role", "peer_ref"], name="protocol_profile_key"),
        ]

    def __str__(self):
        return f"{self.role} {self.peer_ref}"


class ProtocolProfileChange(models.Model):
    """One declaration of a profile as it was first seen (the first, and each change)."""

    profile = models.ForeignKey(ProtocolProfile, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField()
    capabilities = models.JSONField(default=dict, blank=True)
    extensions = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    info_name = models.CharField(max_length=300, blank=True)
    info_version = models.CharField(max_length=255, blank=True)
    info_title = models.CharField(max_length=300, blank=True)
    info_website = models.CharField(max_length=1000, blank=True)
    protocol_version = models.CharField(max_length=50, blank=True)
    content_hash = models.CharField(max_length=64)
    event_ref = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["profile", "-at", "-id"]


class ProtocolSession(models.Model):
    """One MCP session: the revision the client offered and the one negotiated."""

    server_name = models.CharField(max_length=300, blank=True)
    session_key = models.CharField(max_length=320)
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="protocol_sessions"
    )
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="protocol_sessions"
    )
    identity = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offered_version = models.CharField(max_length=50, blank=True)
    negotiated_version = models.CharField(max_length=50, blank=True, db_index=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["server_name", "session_key"], name="protocol_session_key"
            ),
        ]

    def __str__(self):
        return self.session_key


class UrlElicitation(models.Model):
    """A URL-mode elicitation (request, -32042 error or completion), with only the URL's origin."""

    server_name = models.CharField(max_length=300, blank=True)
    # The elicitationId, or "event:<event id>:<n>" where the revision has none (2026-07-28).
    elicitation_key = models.CharField(max_length=400)
    elicitation_id = models.CharField(max_length=300, blank=True)
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="url_elicitations"
    )
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="url_elicitations"
    )
    identity = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_id = models.CharField(max_length=300, blank=True)
    # scheme://host[:port] (lower-cased, no userinfo); "" when the URL could not be read.
    origin = models.CharField(max_length=300, blank=True, db_index=True)
    url_had_credentials = models.BooleanField(default=False)
    url_redacted = models.BooleanField(
        default=False, help_text="The URL had a path, query or fragment (never stored)."
    )
    via_error = models.BooleanField(default=False, help_text="Seen in a -32042 error.")
    action = models.CharField(max_length=20, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    event_ref = models.CharField(max_length=300, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["server_name", "elicitation_key"], name="url_elicitation_key"
            ),
            models.CheckConstraint(
                condition=~Q(origin__contains="@"), name="url_elicitation_origin_has_no_userinfo"
            ),
        ]

    def __str__(self):
        return f"{self.elicitation_key} → {self.origin or '?'}"


class ElicitationOriginAllowance(models.Model):
    """An origin an Admin allowed a server to send users to by URL-mode elicitation."""

    server = models.ForeignKey(
        Server, on_delete=models.CASCADE, related_name="allowed_elicitation_origins"
    )
    origin = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["origin"]
        constraints = [
            models.UniqueConstraint(fields=["server", "origin"], name="elicitation_origin_key"),
        ]

    def __str__(self):
        return self.origin


class SamplingRequest(models.Model):
    """A `sampling/createMessage` that offered the client's model tools."""

    server_name = models.CharField(max_length=300, blank=True)
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="sampling_requests"
    )
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="sampling_requests"
    )
    identity = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_id = models.CharField(max_length=300, blank=True)
    tool_names = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    tool_count = models.PositiveIntegerField(default=0)
    tool_choice = models.CharField(max_length=50, blank=True)
    at = models.DateTimeField(db_index=True)
    event_ref = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.server_name} sampling with {self.tool_count} tools"
