"""Aggregate reads for dashboards, the API and exports, from the hourly rollups only.

Dashboards never scan raw events: ingestion maintains three hourly rollups in the same
transaction that stores the events: by source/server/outcome (small: time series, totals,
outcomes), by source/server/tool/method/outcome (tools) and by identity.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Q, Sum

from audit.models import EventRollupHourly, IdentityRollupHourly, ServerRollupHourly


def events_per_hour(
    since: datetime, *, until: datetime | None = None, source_id: int | None = None
) -> list[dict]:
    """[{hour, events, errors}] oldest first (hours without events are absent)."""
    rows = ServerRollupHourly.objects.filter(hour__gte=since)
    if until is not None:
        rows = rows.filter(hour__lt=until)
    if source_id is not None:
        rows = rows.filter(source_id=source_id)
    rows = (
        rows.values("hour")
        .annotate(n=Sum("events"), e=Sum("events", filter=Q(outcome__in=["error", "denied"])))
        .order_by("hour")
    )
    return [{"hour": r["hour"], "events": r["n"], "errors": r["e"] or 0} for r in rows]


def top_tools(since: datetime, *, limit: int = 10) -> list[dict]:
    """[{server_name, tool, events}] the most called tools since `since`."""
    rows = (
        EventRollupHourly.objects.filter(hour__gte=since)
        .exclude(tool="")
        .values("server_name", "tool")
        .annotate(n=Sum("events"))
        .order_by("-n", "server_name", "tool")[:limit]
    )
    return [{"server_name": r["server_name"], "tool": r["tool"], "events": r["n"]} for r in rows]


def outcomes_by_server(since: datetime) -> list[dict]:
    """[{server_name, outcome, events}] per server and outcome since `since`."""
    rows = (
        ServerRollupHourly.objects.filter(hour__gte=since)
        .values("server_name", "outcome")
        .annotate(n=Sum("events"))
        .order_by("server_name", "outcome")
    )
    return [
        {"server_name": r["server_name"], "outcome": r["outcome"], "events": r["n"]} for r in rows
    ]


def events_by_source(since: datetime) -> list[dict]:
    """[{source_id, source_name, events}] since `since`."""
    rows = (
        ServerRollupHourly.objects.filter(hour__gte=since)
        .values("source_id", source_name=F("source__name"))
        .annotate(n=Sum("events"))
        .order_by("-n")
    )
    return [
        {"source_id": r["source_id"], "source_name": r["source_name"], "events": r["n"]}
        for r in rows
    ]


def top_identities(since: datetime, *, limit: int = 10) -> list[dict]:
    """[{actor_issuer, actor_subject, events, errors}] the most active identities."""
    rows = (
        IdentityRollupHourly.objects.filter(hour__gte=since)
        .values("actor_issuer", "actor_subject")
        .annotate(n=Sum("events"), e=Sum("errors"))
        .order_by("-n", "actor_subject")[:limit]
    )
    return [
        {
            "actor_issuer": r["actor_issuer"],
            "actor_subject": r["actor_subject"],
            "events": r["n"],
            "errors": r["e"],
        }
        for r in rows
    ]


def events_by_issuer(issuers: list[str], since: datetime) -> dict[str, int]:
    """{issuer: events since `since`} for the acting identities' issuers (absent: none).

    From the identity rollup, whose key starts with the hour: a range scan over the hours, not
    the events. With `since` on the hour it counts exactly what the explorer lists for
    `?issuer=&since=`."""
    rows = (
        IdentityRollupHourly.objects.filter(hour__gte=since, actor_issuer__in=issuers)
        .values("actor_issuer")
        .annotate(n=Sum("events"))
    )
    return {r["actor_issuer"]: r["n"] for r in rows}


def total_events(since: datetime) -> int:
    """How many events were received with a time since `since`."""
    return ServerRollupHourly.objects.filter(hour__gte=since).aggregate(n=Sum("events"))["n"] or 0
