"""Discovery bookkeeping: crawl jobs, packages of registry versions, and registry history.

A crawl is a job row (`governance.platform.jobs.Job`; Celery only carries its id); the database
guarantees one open crawl per (kind, target). Registry history keeps what changed under a
server name over time, so a deprecation, a new latest version or a re-created repository can
be seen and acted on.
"""

from __future__ import annotations

from django.db import models

from governance.platform.jobs import Job, one_open_job_per
from inventory.models.core import Registry, Server, ServerVersion

__all__ = ["Crawl", "ServerVersionRecord", "ServerPackage", "ServerChange"]

# What a crawl works on: at most one open crawl per (kind, target).
CRAWL_TARGET = ("kind", "target")


class CrawlQuerySet(models.QuerySet):
    def last_done(self, registry, target: str) -> Crawl | None:
        """The registry's most recent successful crawl of `target` (its base URL now: a crawl of
        a URL the registry had before says nothing about what the new one holds)."""
        return (
            self.filter(
                kind=Crawl.Kind.REGISTRY,
                registry=registry,
                target=target,
                status=Crawl.Status.DONE,
                started_at__isnull=False,
            )
            .order_by("-started_at")
            .first()
        )


class Crawl(Job):
    """One discovery job: crawl a registry, refresh a CIMD document, read OAuth metadata."""

    class Kind(models.TextChoices):
        REGISTRY = "registry", "Registry"
        CIMD = "cimd", "Client ID Metadata Document"
        OAUTH_METADATA = "oauth_metadata", "Server OAuth metadata"

    JOB_TARGET = CRAWL_TARGET

    kind = models.CharField(max_length=30, choices=Kind.choices, db_index=True)
    target = models.CharField(
        max_length=1000, help_text="Registry base URL, client_id URL or server URL."
    )
    registry = models.ForeignKey(
        Registry, null=True, blank=True, on_delete=models.SET_NULL, related_name="crawls"
    )

    objects = CrawlQuerySet.as_manager()

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["registry", "status", "-started_at"])]
        constraints = [one_open_job_per(*CRAWL_TARGET, name="one_open_crawl_per_target")]

    def __str__(self):
        return f"{self.get_kind_display()} crawl of {self.target} ({self.status})"


class ServerVersionRecord(models.Model):
    """What the registry last said about one server version, beyond the core columns.

    The content hash lets a crawl skip versions whose server.json and registry metadata have
    not changed since the last time (registry metadata is immutable except the status).
    """

    server_version = models.OneToOneField(
        ServerVersion, on_delete=models.CASCADE, primary_key=True, related_name="registry_record"
    )
    content_hash = models.CharField(max_length=64)
    repository_id = models.CharField(max_length=200, blank=True)
    status_message = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    crawl = models.ForeignKey(
        Crawl, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self):
        return f"{self.server_version_id}:{self.content_hash[:12]}"


class ServerPackage(models.Model):
    """A package a server version can be installed from (npm, PyPI, OCI, MCPB...)."""

    server_version = models.ForeignKey(
        ServerVersion, on_delete=models.CASCADE, related_name="packages"
    )
    position = models.PositiveSmallIntegerField(help_text="Index in the server.json packages[].")
    registry_type = models.CharField(max_length=50)
    identifier = models.CharField(max_length=1000)
    version = models.CharField(max_length=255, blank=True)
    transport = models.CharField(max_length=30, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    registry_base_url = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["server_version", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["server_version", "position"], name="server_package_natural_key"
            ),
        ]

    def __str__(self):
        return f"{self.registry_type}:{self.identifier}"


class ServerChange(models.Model):
    """One change a registry reported under a server name: a version's status, the latest
    version, or the repository id. Kept as text so the history reads well after deletions."""

    class Field(models.TextChoices):
        STATUS = "status", "Status"
        LATEST_VERSION = "latest_version", "Latest version"
        REPOSITORY_ID = "repository_id", "Repository id"

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="registry_changes")
    registry = models.ForeignKey(
        Registry, null=True, blank=True, on_delete=models.SET_NULL, related_name="server_changes"
    )
    registry_name = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=255, blank=True)
    field = models.CharField(max_length=30, choices=Field.choices)
    old_value = models.CharField(max_length=255, blank=True)
    new_value = models.CharField(max_length=255, blank=True)
    message = models.TextField(blank=True, help_text="statusMessage, when the registry gave one.")
    changed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the registry says it changed, if it says."
    )
    observed_at = models.DateTimeField(db_index=True)
    crawl = models.ForeignKey(
        Crawl, null=True, blank=True, on_delete=models.SET_NULL, related_name="server_changes"
    )

    class Meta:
        ordering = ["-observed_at", "-id"]
        indexes = [models.Index(fields=["server", "-observed_at"])]

    def __str__(self):
        return f"{self.server_id} {self.field}: {self.old_value or '∅'} → {self.new_value}"
