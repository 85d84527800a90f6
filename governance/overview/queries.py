"""Overview aggregates: one function per number or series, for the dashboard, API and exports."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from audit import queries as audit_queries
from inventory.models import (
    EXPIRING_SOON,
    TASK_EXPIRED,
    Client,
    Flag,
    Grant,
    Identity,
    Server,
    Task,
    task_flagged_q,
    task_past_ttl_q,
    task_running_q,
)


def overview_counts(*, now: datetime | None = None) -> dict[str, int]:
    """Headline counts, each by the one definition on its model (active grants, open flags,
    running and past-TTL tasks), so a card cannot disagree with the list it links to; in two
    round trips (the overview is the landing page)."""
    now = now or timezone.now()
    counts = _counts_in_one_query(
        {
            "identities": Identity.objects.all(),
            "clients": Client.objects.all(),
            "servers": Server.objects.all(),
            "active_grants": Grant.objects.active(),
            "open_flags": Flag.objects.open(),
        }
    )
    return {
        **counts,
        **Task.objects.aggregate(
            running_tasks=Count("id", filter=task_running_q(now)),
            expired_tasks=Count("id", filter=task_past_ttl_q(now)),
            flagged_tasks=Count("id", filter=task_flagged_q()),
        ),
    }


def _counts_in_one_query(querysets: dict[str, QuerySet]) -> dict[str, int]:
    """{name: row count} for several querysets in one SELECT of scalar subqueries."""
    parts, params = [], []
    for queryset in querysets.values():
        sql, query_params = queryset.order_by().values("pk").query.sql_with_params()
        parts.append(f"(SELECT count(*) FROM ({sql}) AS counted)")
        params.extend(query_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        return dict(zip(querysets, cursor.fetchone(), strict=True))


def grants_by_status_and_type() -> list[dict]:
    """[{status, grant_type, n}] for every combination present."""
    return list(
        Grant.objects.order_by()
        .values("status", "grant_type")
        .annotate(n=Count("id"))
        .order_by("status", "grant_type")
    )


def tasks_by_status(*, now: datetime | None = None) -> dict[str, int]:
    """{status: n} with every task status (zeros included) and "expired": the tasks still
    working or input_required after their TTL, counted there and not under their status."""
    shown = Case(
        When(task_past_ttl_q(now or timezone.now()), then=Value(TASK_EXPIRED)),
        default=F("status"),
        output_field=CharField(),
    )
    counts = dict(
        Task.objects.order_by().annotate(shown=shown).values_list("shown").annotate(n=Count("id"))
    )
    return {status: counts.get(status, 0) for status in [*Task.Status.values, TASK_EXPIRED]}


def tasks_by_starter(*, now: datetime | None = None, limit: int = 10) -> list[dict]:
    """[{identity_id, identity_name, client_id, client_name, running, past_ttl}]: who started
    the tasks still running and those past their TTL, by (identity, client), the most tasks
    first; the names (as the objects' str()) joined in the same query."""
    now = now or timezone.now()
    running, past_ttl = task_running_q(now), task_past_ttl_q(now)
    rows = (
        Task.objects.filter(running | past_ttl)
        .order_by()
        .values("identity_id", "client_id")
        .annotate(
            identity_name=Coalesce(
                NullIf("identity__display_name", Value("")),
                NullIf("identity__email", Value("")),
                "identity__subject",
                output_field=CharField(),
            ),
            client_name=Coalesce(
                NullIf("client__name", Value("")), "client__client_id", output_field=CharField()
            ),
            running=Count("id", filter=running),
            past_ttl=Count("id", filter=past_ttl),
            total=Count("id"),
        )
        .order_by("-total", "-running", "identity_id", "client_id")
    )
    return list(rows[:limit])


def clients_by_registration() -> dict[str, int]:
    """{registration kind: n} for the kinds present."""
    return dict(
        Client.objects.order_by()
        .values_list("registration")
        .annotate(n=Count("id"))
        .order_by("registration")
    )


def grants_expiring_soon(
    *, now: datetime | None = None, within: timedelta = EXPIRING_SOON, limit: int = 10
) -> QuerySet:
    """Active grants whose expiry falls in the next `within`, soonest first."""
    return (
        Grant.objects.expiring_soon(now, within)
        .select_related("client", "subject")
        .order_by("expires_at", "id")[:limit]
    )


def top_clients_by_active_grants(*, limit: int = 10) -> list[Client]:
    """The clients holding the most active grants (only those holding at least one)."""
    return list(
        Client.objects.annotate(
            active_grants=Count("grants", filter=Q(grants__status=Grant.Status.ACTIVE))
        )
        .filter(active_grants__gt=0)
        .order_by("-active_grants", "name")[:limit]
    )


def audit_activity(*, now: datetime | None = None, days: int = 7) -> dict:
    """Events in the last `days` from the hourly rollups (never the raw event table)."""
    since = (now or timezone.now()) - timedelta(days=days)
    per_hour = audit_queries.events_per_hour(since)
    return {
        "days": days,
        "per_hour": per_hour,
        "events": sum(r["events"] for r in per_hour),
        "errors": sum(r["errors"] for r in per_hour),
        "top_tools": audit_queries.top_tools(since, limit=10),
    }
