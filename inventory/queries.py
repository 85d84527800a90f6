"""Inventory reads: the list filters, search and sorting shared by pages, the API and exports.

Each list is described once by a `ListSpec` (governance/access/lists/filters.py); `filtered(spec,
params)` turns query parameters (a QueryDict or a plain dict) into a queryset, so a page and the
API can never disagree on what `?status=revoked` means. Bad values raise `InvalidFilter` naming
the parameter (shown as a 400).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import BooleanField, Count, Max, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from governance.access.lists.filters import Filter, ListSpec, filtered
from inventory.models import (
    AuthorizationServer,
    Client,
    Flag,
    Grant,
    Identity,
    ReviewStatus,
    Server,
    Task,
    expiring_soon_q,
    task_flagged_q,
    task_past_ttl_q,
    task_running_q,
)


def _running(queryset, value: bool):
    running = task_running_q()  # past-TTL tasks are not running (see Task.is_past_ttl)
    return queryset.filter(running if value else ~running)


def _expired(queryset, value: bool):
    past_ttl = task_past_ttl_q()
    return queryset.filter(past_ttl if value else ~past_ttl)


def _flagged(queryset, value: bool):
    flagged = task_flagged_q()  # an open Flag, not the column (see task_flagged_q)
    return queryset.filter(flagged if value else ~flagged)


def _expiring(queryset, value: bool):
    soon = expiring_soon_q()  # the one definition, also the overview's (GrantQuerySet)
    return queryset.filter(soon if value else ~soon)


def _scope(queryset, value: str):
    """Grants holding this exact scope ("who holds billing:admin?"): array containment, which
    the GIN index on Grant.scopes answers. With a `*` it is a pattern over each scope
    ("billing:*", "*:admin", "*write*"), read by scanning the grants (no index helps there)."""
    if "*" not in value:
        return queryset.filter(scopes__contains=[value])
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = escaped.replace("*", "%")
    return queryset.filter(
        RawSQL(
            f"EXISTS (SELECT 1 FROM unnest({Grant._meta.db_table}.scopes) AS s WHERE s LIKE %s)",
            [pattern],
            output_field=BooleanField(),
        )
    )


def _unused_days(queryset, days: int):
    """Grants not used for `days` days: never used, or last used before then."""
    since = timezone.now() - timedelta(days=days)
    return queryset.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=since))


def _vanished(queryset, value: bool):
    return queryset.filter(vanished_at__isnull=not value)


def _open(queryset, value: bool):
    return queryset.open() if value else queryset.exclude(pk__in=Flag.objects.open())


IDENTITY_SPEC = ListSpec(
    search=("display_name", "email", "subject", "team"),
    filters=(
        Filter("issuer", "issuer", kind="text"),
        Filter("kind", "kind", choices=tuple(Identity.Kind.choices)),
        Filter("status", "status", choices=tuple(Identity.Status.choices)),
    ),
    sorts={
        "name": "display_name",
        "issuer": "issuer",
        "kind": "kind",
        "status": "status",
        "last_seen": "last_seen",
        "first_seen": "first_seen",
    },
    default_sort="name",
)
CLIENT_SPEC = ListSpec(
    search=("client_id", "name"),
    filters=(
        Filter("registration", "registration", choices=tuple(Client.Registration.choices)),
        Filter("review_status", "review_status", choices=tuple(ReviewStatus.choices)),
    ),
    sorts={
        "name": "name",
        "client_id": "client_id",
        "registration": "registration",
        "review_status": "review_status",
        "last_seen": "last_seen",
        "active_grants": "active_grants",
    },
    default_sort="name",
)
SERVER_SPEC = ListSpec(
    search=("name", "title", "description"),
    filters=(
        Filter("registry_status", "registry_status", choices=tuple(Server.RegistryStatus.choices)),
        Filter("review_status", "review_status", choices=tuple(ReviewStatus.choices)),
    ),
    sorts={
        "name": "name",
        "registry_status": "registry_status",
        "review_status": "review_status",
        "last_seen": "last_seen",
        "latest_version": "latest_version",
    },
    default_sort="name",
)
GRANT_SPEC = ListSpec(
    search=(
        "external_id",
        "client__name",
        "client__client_id",
        "subject__display_name",
        "subject__email",
        "resource",
    ),
    filters=(
        Filter("status", "status", choices=tuple(Grant.Status.choices)),
        Filter("grant_type", "grant_type", choices=tuple(Grant.GrantType.choices)),
        Filter("issuer", "issuer", kind="text"),
        Filter("client", "client_id", kind="id"),
        Filter("subject", "subject_id", kind="id"),
        Filter("server", "server_id", kind="id"),
        Filter("scope", "", kind="text", label="holds the scope (exact, or a pattern: crm:*)"),
        Filter("unused_days", "", kind="count", label="unused for N days"),
        Filter("expiring", "", kind="bool", label="expiring in 7 days"),
        Filter("vanished", "", kind="bool", label="vanished at the IdP"),
    ),
    sorts={
        "issued_at": "issued_at",
        "expires_at": "expires_at",
        "last_used_at": "last_used_at",
        "status": "status",
        "grant_type": "grant_type",
        "client": "client__name",
    },
    default_sort="-issued_at",
    extra={
        "expiring": _expiring,
        "scope": _scope,
        "unused_days": _unused_days,
        "vanished": _vanished,
    },
)
TASK_SPEC = ListSpec(
    search=("task_id", "tool_name", "method"),
    filters=(
        Filter("status", "status", choices=tuple(Task.Status.choices)),
        Filter("server", "server_id", kind="id"),
        Filter("client", "client_id", kind="id"),
        Filter("identity", "identity_id", kind="id"),
        Filter("grant", "grant_id", kind="id"),
        Filter("flagged", "", kind="bool", label="flagged (an open flag)"),
        Filter("running", "", kind="bool", label="running (within its TTL)"),
        Filter("expired", "", kind="bool", label="past its TTL"),
    ),
    sorts={
        "last_updated_at": "last_updated_at",
        "created_at": "created_at",
        "status": "status",
        "task_id": "task_id",
    },
    default_sort="-last_updated_at",
    extra={"running": _running, "expired": _expired, "flagged": _flagged},
)
FLAG_SPEC = ListSpec(
    search=("summary", "object_repr", "kind"),
    filters=(
        Filter("kind", "kind", kind="text"),
        Filter("severity", "severity", choices=tuple(Flag.Severity.choices)),
        Filter("object_type", "object_type", kind="text"),
        Filter("open", "", kind="bool"),
    ),
    sorts={
        "last_raised_at": "last_raised_at",
        "raised_at": "raised_at",
        "severity": "severity",
        "kind": "kind",
    },
    default_sort="-last_raised_at",
    extra={"open": _open},
)


def identities(params: Mapping) -> QuerySet:
    """Identities for a list page or API call."""
    return filtered(IDENTITY_SPEC, Identity.objects.select_related("owner"), params)


def clients(params: Mapping) -> QuerySet:
    """Clients with their active-grant count."""
    base = Client.objects.select_related("owner").annotate(
        active_grants=Count("grants", filter=Q(grants__status=Grant.Status.ACTIVE))
    )
    return filtered(CLIENT_SPEC, base, params)


def servers(params: Mapping) -> QuerySet:
    """Servers for a list page or API call."""
    return filtered(SERVER_SPEC, Server.objects.select_related("owner"), params)


def grants(params: Mapping) -> QuerySet:
    """Grants with their client, subject and server."""
    base = Grant.objects.select_related("client", "subject", "server")
    return filtered(GRANT_SPEC, base, params)


# The grants CSV (Auditor+): one row per grant, the list's filters applied.
GRANT_EXPORT_COLUMNS = (
    "id",
    "issuer",
    "external_id",
    "client_id",
    "client_name",
    "subject_issuer",
    "subject",
    "subject_name",
    "subject_email",
    "server",
    "resource",
    "scopes",
    "grant_type",
    "status",
    "issued_at",
    "expires_at",
    "access_token_expires_at",
    "last_used_at",
    "vanished_at",
    "revoked_at",
    "seen_from",
)


def grant_export_rows(params: Mapping) -> Iterator[tuple]:
    """The filtered grants as GRANT_EXPORT_COLUMNS tuples, read in chunks (any size of list).
    A bad filter raises InvalidFilter here, before the first row is read."""
    rows = grants(params).values_list(
        "id",
        "issuer",
        "external_id",
        "client__client_id",
        "client__name",
        "subject__issuer",
        "subject__subject",
        "subject__display_name",
        "subject__email",
        "server__name",
        "resource",
        "scopes",
        "grant_type",
        "status",
        "issued_at",
        "expires_at",
        "access_token_expires_at",
        "last_used_at",
        "vanished_at",
        "revoked_at",
        "seen_from",
    )
    return ((*row[:11], " ".join(row[11]), *row[12:]) for row in rows.iterator(chunk_size=2000))


def tasks(params: Mapping) -> QuerySet:
    """Tasks with their server, client and identity."""
    base = Task.objects.select_related("server", "client", "identity").with_open_flag()
    return filtered(TASK_SPEC, base, params)


def flags(params: Mapping) -> QuerySet:
    """Flags; pages default to open ones (`open=true`)."""
    return filtered(FLAG_SPEC, Flag.objects.all(), params)


def flags_for(obj) -> QuerySet:
    """Flags raised on one inventory object, open first."""
    return Flag.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk)).order_by(
        "-resolved_at", "-last_raised_at"
    )


def open_flag_counts(object_type: str, object_ids) -> dict[str, int]:
    """{object id: its open flags} for the given objects of one type (ids as strings), so a
    page counts its own rows' flags, not the whole table's."""
    return dict(
        Flag.objects.open()
        .filter(object_type=object_type, object_id__in=[str(pk) for pk in object_ids])
        .values_list("object_id")
        .annotate(n=Count("id"))
        .order_by()
    )


def agents_acting_for(identity: Identity) -> QuerySet:
    """The grants through which agents (clients) act for this identity, live ones first: each
    with its client, server, scopes, since (issued, else first seen), last use and issuer."""
    return (
        identity.grants.select_related("client", "server")
        .annotate(since=Coalesce("issued_at", "first_seen"))
        .order_by("status", "vanished_at", "client__name", "client__client_id", "-id")
    )


def agents_answered_for(identity: Identity) -> QuerySet:
    """Identities this one answers for: those it owns or sponsors, and the agents and services
    it manages (its human reports are not agents)."""
    return (
        Identity.objects.filter(
            Q(owner=identity)
            | Q(sponsor=identity)
            | (Q(manager=identity) & ~Q(kind=Identity.Kind.HUMAN))
        )
        .order_by("display_name", "subject")
        .distinct()
    )


def subjects_of_client(client: Client) -> QuerySet:
    """Whom the client acts for: the subjects of its grants, with how many (and how many
    active), their issuers and the last use of any of them."""
    on_client = Q(grants__client=client)
    return (
        Identity.objects.filter(on_client)
        .annotate(
            grant_count=Count("grants", filter=on_client),
            active_count=Count("grants", filter=on_client & Q(grants__status="active")),
            last_used=Max("grants__last_used_at", filter=on_client),
            grant_issuers=ArrayAgg("grants__issuer", distinct=True, filter=on_client),
        )
        .order_by("display_name", "subject")
    )


def clients_of_identity(identity: Identity) -> QuerySet:
    """Clients the identity owns or has been granted access through."""
    return (
        Client.objects.filter(Q(owner=identity) | Q(grants__subject=identity))
        .distinct()
        .order_by("name", "client_id")
    )


def servers_of_client(client: Client) -> QuerySet:
    """Servers the client holds grants on, with how many (and how many active)."""
    return (
        Server.objects.filter(grants__client=client)
        .annotate(
            grant_count=Count("grants", filter=Q(grants__client=client)),
            active_count=Count("grants", filter=Q(grants__client=client, grants__status="active")),
        )
        .order_by("name")
    )


# A server is guarded by an authorization server while one of its remotes' Protected Resource
# Metadata names it: derived from the PRMs on every read, so it can never outlive them.
_GUARDED = "protected_resources__remote__server"


def servers_guarded_by(auth: AuthorizationServer) -> QuerySet:
    """Servers whose remotes' Protected Resource Metadata names this authorization server."""
    return (
        Server.objects.filter(remotes__protected_resource__authorization_servers=auth)
        .distinct()
        .order_by("name")
    )


def authorization_servers() -> QuerySet:
    """Authorization servers by issuer, with `guarded_names`: the names of the servers they
    guard, sorted (server names are unique: its length is how many)."""
    return AuthorizationServer.objects.annotate(
        guarded_names=ArrayAgg(
            f"{_GUARDED}__name",
            distinct=True,
            order_by=f"{_GUARDED}__name",
            filter=Q(**{f"{_GUARDED}__isnull": False}),
            default=Value([]),
        )
    ).order_by("issuer")
