"""Inventory core: what exists. Identities, MCP clients, servers, registries, grants and tasks.

Natural keys are database constraints; every row keeps when it was first and last seen and
where it was seen from (events, a registry crawl, a CIMD fetch, an IdP sync, by hand, demo).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Exists, ExpressionWrapper, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from inventory.models.findings import Flag
from inventory.remote_urls import USERINFO_PATTERN

# The spec's tool-name rule (a SHOULD, so we warn, not refuse): MCP 2025-11-25, SEP-986.
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class SeenFrom(models.TextChoices):
    EVENTS = "events", "Audit events"
    REGISTRY = "registry", "Registry crawl"
    CIMD = "cimd", "CIMD fetch"
    IDP = "idp", "IdP sync"
    MANUAL = "manual", "Added by hand"
    DEMO = "demo", "Demo data"


class Sighting(models.Model):
    """First/last seen bookkeeping shared by every inventory entity."""

    first_seen = models.DateTimeField(db_index=True)
    last_seen = models.DateTimeField(db_index=True)
    seen_from = models.CharField(max_length=20, choices=SeenFrom.choices, default=SeenFrom.MANUAL)

    class Meta:
        abstract = True


class Identity(Sighting):
    """A principal that can act: a human, a service account or an agent, as its IdP knows it."""

    class Kind(models.TextChoices):
        HUMAN = "human", "Human"
        SERVICE = "service", "Service"
        AGENT = "agent", "Agent"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    issuer = models.CharField(max_length=300, help_text="IdP / issuer the subject belongs to.")
    subject = models.CharField(max_length=300, help_text="The IdP's external id (OIDC sub).")
    display_name = models.CharField(max_length=300, blank=True)
    email = models.EmailField(max_length=300, blank=True, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.HUMAN)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    owner = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_identities",
        help_text="Accountable human for a service or agent.",
    )
    # From IdP syncs: a person's manager (Okta/Entra) and an agent identity's sponsor (Entra
    # Agent ID), so "who answers for this agent" has an answer beyond the owner.
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    sponsor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sponsored_identities",
        help_text="Human who sponsors an agent identity.",
    )
    team = models.CharField(max_length=200, blank=True)
    # Set when an Admin cut the identity off everywhere (governance.containment).
    cut_off_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "identities"
        ordering = ["display_name", "subject"]
        # Ingest asks "is anyone cut off?" per batch (inventory/services/derive_revoked.py):
        # an index holding only the cut-off rows answers it at once, and is empty until then.
        indexes = [
            models.Index(
                fields=["issuer", "subject"],
                condition=Q(cut_off_at__isnull=False),
                name="identity_cut_off",
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="identity_natural_key"),
        ]

    def __str__(self):
        return self.display_name or self.email or self.subject


class ReviewStatus(models.TextChoices):
    UNREVIEWED = "unreviewed", "Unreviewed"
    APPROVED = "approved", "Approved"
    BLOCKED = "blocked", "Blocked"


class Client(Sighting):
    """An MCP / OAuth client (agent, IDE, chat app) identified by its client_id."""

    class Registration(models.TextChoices):
        CIMD = "cimd", "Client ID Metadata Document"
        PRE_REGISTERED = "pre_registered", "Pre-registered"
        DCR = "dcr", "Dynamic registration"
        CLIENT_CREDENTIALS = "client_credentials", "Client credentials (M2M)"
        WORKLOAD = "workload", "Workload identity"

    client_id = models.CharField(
        max_length=500, unique=True, help_text="OAuth client_id; an https URL for CIMD clients."
    )
    issuer = models.CharField(
        max_length=300,
        blank=True,
        help_text="Authorization server that knows this client, if known.",
    )
    registration = models.CharField(
        max_length=30, choices=Registration.choices, default=Registration.PRE_REGISTERED
    )
    name = models.CharField(max_length=300, blank=True)
    version = models.CharField(max_length=100, blank=True, help_text="Self-asserted clientInfo.")
    owner = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_clients"
    )
    review_status = models.CharField(
        max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.UNREVIEWED, db_index=True
    )
    # Set by a kill switch (governance.containment): from this time on, an event from this client
    # is "used after revocation". Cleared by its undo.
    cut_off_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "client_id"]
        # As Identity's: the killed clients only, probed by every ingest batch.
        indexes = [
            models.Index(
                fields=["client_id"], condition=Q(cut_off_at__isnull=False), name="client_cut_off"
            )
        ]

    def __str__(self):
        return self.name or self.client_id

    @staticmethod
    def registration_for(client_id: str) -> str:
        """CIMD clients are the ones whose client_id is an https URL."""
        if client_id.startswith("https://"):
            return Client.Registration.CIMD
        return Client.Registration.PRE_REGISTERED


class Registry(models.Model):
    """An MCP registry the console crawls: the official one or a private sub-registry."""

    class Kind(models.TextChoices):
        OFFICIAL = "official", "Official"
        PRIVATE = "private", "Private"

    name = models.CharField(max_length=200, unique=True)
    base_url = models.URLField(max_length=500, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PRIVATE)
    enabled = models.BooleanField(default=True)
    crawl_interval_minutes = models.PositiveIntegerField(default=60)
    last_crawled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "registries"
        ordering = ["name"]

    def __str__(self):
        return self.name


class Server(Sighting):
    """An MCP server, keyed by its registry name (reverse DNS, e.g. io.github.owner/name).

    Servers only seen at runtime get a name derived from their URL host until a registry names them.
    """

    class RegistryStatus(models.TextChoices):
        ACTIVE = "active", "Active"
        DEPRECATED = "deprecated", "Deprecated"
        DELETED = "deleted", "Deleted"
        UNLISTED = "unlisted", "Not in a registry"

    name = models.CharField(max_length=300, unique=True)
    title = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    latest_version = models.CharField(max_length=255, blank=True)
    repository_url = models.URLField(max_length=500, blank=True)
    repository_id = models.CharField(max_length=200, blank=True)
    registry_status = models.CharField(
        max_length=20,
        choices=RegistryStatus.choices,
        default=RegistryStatus.UNLISTED,
        db_index=True,
    )
    owner = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_servers"
    )
    review_status = models.CharField(
        max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.UNREVIEWED, db_index=True
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.title or self.name


class ServerVersion(models.Model):
    """One published version of a server in one registry (registry, name, version is the key)."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="versions")
    registry = models.ForeignKey(
        Registry, null=True, blank=True, on_delete=models.CASCADE, related_name="server_versions"
    )
    version = models.CharField(max_length=255)
    is_latest = models.BooleanField(default=False)
    status = models.CharField(
        max_length=20, choices=Server.RegistryStatus.choices, default=Server.RegistryStatus.ACTIVE
    )
    published_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    document = models.JSONField(default=dict, blank=True, help_text="The server.json as served.")
    problems = models.JSONField(
        default=list, blank=True, help_text="Validation problems found in the server.json."
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["server", "-published_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["registry", "server", "version"],
                nulls_distinct=False,
                name="server_version_natural_key",
            ),
        ]

    def __str__(self):
        return f"{self.server.name}@{self.version}"


class ServerRemote(models.Model):
    """A URL a server is reachable at, and its transport."""

    class Transport(models.TextChoices):
        STREAMABLE_HTTP = "streamable-http", "Streamable HTTP"
        SSE = "sse", "SSE (legacy)"
        STDIO = "stdio", "stdio"

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="remotes")
    url = models.URLField(max_length=1000)
    transport = models.CharField(
        max_length=20, choices=Transport.choices, default=Transport.STREAMABLE_HTTP
    )
    # The URL was reported with `user:password@`, which is never stored (inventory/remote_urls.py).
    had_credentials = models.BooleanField(default=False, db_default=False)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["url"]
        constraints = [
            models.UniqueConstraint(fields=["server", "url"], name="server_remote_natural_key"),
            # Whatever the writer, credentials never reach the table (inventory/remote_urls.py).
            models.CheckConstraint(
                condition=~models.Q(url__regex=USERINFO_PATTERN),
                name="server_remote_url_without_userinfo",
            ),
        ]

    def __str__(self):
        return self.url


class Tool(models.Model):
    """A tool a server offers."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="tools")
    name = models.CharField(max_length=300)
    title = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    name_conforms = models.BooleanField(
        default=True, help_text="Matches ^[A-Za-z0-9_.-]{1,128}$ (spec SHOULD)."
    )
    task_support = models.CharField(
        max_length=20, blank=True, help_text="execution.taskSupport: forbidden/optional/required"
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["server", "name"]
        constraints = [
            models.UniqueConstraint(fields=["server", "name"], name="tool_natural_key"),
        ]

    def __str__(self):
        return self.name

    @staticmethod
    def conforms(name: str) -> bool:
        return bool(TOOL_NAME_RE.match(name))


# "Expiring soon" on the overview and the grant list's `expiring` filter: one window.
EXPIRING_SOON = timedelta(days=7)


class GrantQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Grant.Status.ACTIVE)

    def expiring_soon(self, now: datetime | None = None, within: timedelta = EXPIRING_SOON):
        """Active grants whose expiry falls after `now` and within `within` of it."""
        return self.filter(expiring_soon_q(now, within))


def expiring_soon_q(now: datetime | None = None, within: timedelta = EXPIRING_SOON) -> Q:
    """The SQL of GrantQuerySet.expiring_soon (a filter may also ask for its negation)."""
    now = now or timezone.now()
    return Q(status="active", expires_at__gt=now, expires_at__lte=now + within)


class Grant(Sighting):
    """Delegated access: a client acting for a subject on a resource, with scopes."""

    class GrantType(models.TextChoices):
        AUTHORIZATION_CODE = "authorization_code", "Authorization code"
        CLIENT_CREDENTIALS = "client_credentials", "Client credentials"
        TOKEN_EXCHANGE = "token_exchange", "Token exchange / ID-JAG"
        JWT_BEARER = "jwt_bearer", "JWT bearer (ID-JAG)"
        REFRESH_TOKEN = "refresh_token", "Refresh token"
        # What IdPs list besides token grants: a user's consent to a client's scopes (Entra
        # oauth2PermissionGrants, Keycloak consents, Auth0 grants) and an application permission
        # given to a client itself (Entra appRoleAssignedTo, Auth0 client grants).
        CONSENT = "consent", "User consent"
        APPLICATION_PERMISSION = "application_permission", "Application permission"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    subject = models.ForeignKey(
        Identity,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="grants",
        help_text="Who the client acts as (empty for pure M2M).",
    )
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="grants")
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="grants"
    )
    resource = models.CharField(
        max_length=1000, blank=True, help_text="Audience / RFC 8707 resource."
    )
    scopes = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    grant_type = models.CharField(
        max_length=30, choices=GrantType.choices, default=GrantType.AUTHORIZATION_CODE
    )
    issuer = models.CharField(max_length=300, help_text="IdP / authorization server.")
    external_id = models.CharField(max_length=300, help_text="The issuer's id for the grant.")
    has_refresh_token = models.BooleanField(default=False)
    id_jag_jti = models.CharField(max_length=300, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True, db_index=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=200, blank=True)
    revoke_reason = models.TextField(blank=True)
    # IdP syncs: a grant the IdP no longer lists is marked, never deleted (its history stays);
    # `raw` is the IdP's own record and `content_hash` lets an unchanged record cost no write.
    vanished_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When the IdP stopped listing it."
    )
    raw = models.JSONField(default=dict, blank=True, help_text="The IdP's record, as synced.")
    content_hash = models.CharField(max_length=64, blank=True)
    # A self-contained (JWT) access token stays valid until its `exp` whatever is revoked: the
    # residual validity revocation cannot cut.
    access_token_expires_at = models.DateTimeField(null=True, blank=True)

    objects = GrantQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-id"]
        # "Who holds billing:admin?" is `scopes @> ARRAY[...]`: a GIN index answers it.
        indexes = [
            GinIndex(fields=["scopes"], name="grant_scopes_gin"),
            # "Used after revocation" (derive_revoked.py) looks events' grants up among the
            # revoked ones only, by id or by client and subject.
            models.Index(
                fields=["external_id"],
                condition=Q(status="revoked"),
                name="grant_revoked_external_id",
            ),
            models.Index(
                fields=["client", "subject"],
                condition=Q(status="revoked"),
                name="grant_revoked_client_subject",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "external_id"], name="grant_natural_key"),
            models.CheckConstraint(
                condition=~Q(status="revoked") | Q(revoked_at__isnull=False),
                name="grant_revoked_has_time",
            ),
        ]

    def __str__(self):
        return f"{self.client} for {self.subject or 'itself'} ({self.external_id})"

    def is_expired(self, now) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class TaskStatus(models.TextChoices):
    WORKING = "working", "Working"
    INPUT_REQUIRED = "input_required", "Input required"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# Not a status a server reports: what the console shows for a running task past its TTL.
TASK_EXPIRED = "expired"
TERMINAL_TASK_STATUSES = {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}
# MCP 2025-11-25 §Tasks: the only legal edges; terminal states never change.
LEGAL_TASK_TRANSITIONS = {
    TaskStatus.WORKING: {
        TaskStatus.INPUT_REQUIRED,
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
    },
    TaskStatus.INPUT_REQUIRED: {
        TaskStatus.WORKING,
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
    },
}


RUNNING_TASK_STATUSES = (TaskStatus.WORKING, TaskStatus.INPUT_REQUIRED)


# "Expired" is defined here once, in SQL (task_expires_at / task_past_ttl_q) and for one row
# (Task.expires_at / Task.is_past_ttl), and everything else uses these. A task is past its TTL
# when it is still working or input_required after createdAt + ttl: MCP 2025-11-25 lets the
# receiver delete it then, so it will never report a terminal status and must not be shown as
# running forever. ttl null (unlimited) or unknown never expires.
def task_expires_at():
    """SQL: created_at (first_seen when the server sent none) + ttl_ms; NULL when unlimited."""
    ttl = ExpressionWrapper(
        F("ttl_ms") * Value(timedelta(milliseconds=1)), output_field=models.DurationField()
    )
    return ExpressionWrapper(
        Coalesce("created_at", "first_seen") + ttl, output_field=models.DateTimeField()
    )


def task_past_ttl_q(now: datetime | None = None) -> Q:
    """Tasks still running by their last status whose TTL has elapsed by `now`."""
    return Q(status__in=RUNNING_TASK_STATUSES, ttl_unlimited=False, ttl_ms__isnull=False) & Q(
        LessThanOrEqual(task_expires_at(), now or timezone.now())
    )


def task_running_q(now: datetime | None = None) -> Q:
    """Tasks genuinely running: working or input_required and within their TTL."""
    return Q(status__in=RUNNING_TASK_STATUSES) & ~task_past_ttl_q(now)


class TaskQuerySet(models.QuerySet):
    def running(self, now: datetime | None = None):
        """Working or input_required, excluding those past their TTL."""
        return self.filter(task_running_q(now))

    def past_ttl(self, now: datetime | None = None):
        """Still working or input_required after their TTL: shown as expired."""
        return self.filter(task_past_ttl_q(now))

    def flagged(self):
        """Tasks with an open Flag (see task_flagged_q)."""
        return self.filter(task_flagged_q())

    def with_open_flag(self):
        """Each task with `has_open_flag`: what its "flagged" badge shows (one subquery)."""
        return self.annotate(has_open_flag=task_open_flag_exists())


def task_open_flag_exists() -> Exists:
    """An open Flag on the task (OuterRef to the task): the one test of "flagged"."""
    return Exists(
        Flag.objects.open().filter(
            object_type="inventory.task", object_id=Cast(OuterRef("pk"), models.CharField())
        )
    )


def task_flagged_q() -> Q:
    """ "Flagged" means an open Flag on the task (an illegal transition, past its TTL): what the
    task list's `flagged` filter and the overview count. The `flagged` / `flag_reason` columns
    only remember the last illegal transition the task reported (its page shows the reason);
    they are not cleared when the flag is resolved, so they never decide "flagged"."""
    return Q(task_open_flag_exists())


class Task(Sighting):
    """A long-running MCP task on a server (taskId is unique per receiver)."""

    Status = TaskStatus

    task_id = models.CharField(max_length=300)
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    identity = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    grant = models.ForeignKey(
        Grant, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    session_id = models.CharField(max_length=300, blank=True)
    method = models.CharField(max_length=100, blank=True, help_text="Originating method.")
    tool_name = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=20, choices=TaskStatus.choices, default=TaskStatus.WORKING, db_index=True
    )
    status_message = models.TextField(blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    last_updated_at = models.DateTimeField(null=True, blank=True, db_index=True)
    requested_ttl_ms = models.BigIntegerField(null=True, blank=True)
    ttl_ms = models.BigIntegerField(
        null=True, blank=True, help_text="Actual retention in ms; see ttl_unlimited."
    )
    ttl_unlimited = models.BooleanField(default=False, help_text="The server sent ttl: null.")
    poll_interval_ms = models.BigIntegerField(null=True, blank=True)
    protocol_version = models.CharField(max_length=20, blank=True)
    # The last illegal transition reported (not "needs a look now": see task_flagged_q).
    flagged = models.BooleanField(default=False, db_index=True)
    flag_reason = models.TextField(blank=True)
    # A task still working (or waiting for input) when its grant, client or identity was revoked
    # outlives the revocation: it is marked orphaned, and cancelled through its source's cancel
    # hook when there is one, else it needs its owner's action.
    orphaned_at = models.DateTimeField(null=True, blank=True, db_index=True)
    orphaned_by_revocation = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The governance revocation's id."
    )
    owner_action = models.CharField(
        max_length=30,
        blank=True,
        choices=[
            ("", "None"),
            ("cancel_requested", "Cancel requested from the gateway"),
            ("cancel_accepted", "Gateway accepted the cancel"),
            ("cancel_failed", "Gateway cancel failed"),
            ("needs_owner_action", "Needs owner action"),
        ],
    )

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["-last_updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "task_id"], nulls_distinct=False, name="task_natural_key"
            ),
        ]

    def __str__(self):
        return self.task_id

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_TASK_STATUSES

    @property
    def expires_at(self) -> datetime | None:
        """When the receiver may delete the task (see task_expires_at, its SQL twin)."""
        start = self.created_at or self.first_seen
        if self.ttl_unlimited or self.ttl_ms is None or start is None:
            return None
        return start + timedelta(milliseconds=self.ttl_ms)

    def is_past_ttl(self, now: datetime | None = None) -> bool:
        """Still running by its last status, but its TTL has elapsed (task_past_ttl_q's twin)."""
        expires_at = self.expires_at
        return (
            self.status in RUNNING_TASK_STATUSES
            and expires_at is not None
            and expires_at <= (now or timezone.now())
        )

    @property
    def expired(self) -> bool:
        return self.is_past_ttl()

    @property
    def effective_status(self) -> str:
        """The status to show: "expired" for a task past its TTL, else its last status."""
        return TASK_EXPIRED if self.expired else self.status

    @staticmethod
    def is_legal_transition(old: str, new: str) -> bool:
        """Repeating the same status is no change; leaving a terminal state is illegal."""
        return old == new or new in LEGAL_TASK_TRANSITIONS.get(old, set())


class TaskStatusChange(models.Model):
    """One status report for a task. Illegal ones (out of a terminal state) are kept, flagged,
    and not applied to the task."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="status_history")
    from_status = models.CharField(max_length=20, choices=TaskStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=TaskStatus.choices)
    at = models.DateTimeField(db_index=True)
    status_message = models.TextField(blank=True)
    is_legal = models.BooleanField(default=True)
    event_ref = models.CharField(
        max_length=300, blank=True, help_text="The audit event that reported it, if any."
    )

    class Meta:
        ordering = ["task", "at", "id"]

    def __str__(self):
        return f"{self.task}: {self.from_status or '∅'} → {self.to_status}"
