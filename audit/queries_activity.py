"""What the explorer's chart and top tools show for its filters, and an identity's recent events.

The chart and the top tools follow the explorer's filters. When those name only columns the
tool rollup keeps (source, server, tool, method, outcome), they are read from it, whatever the
number of events; any other filter (identity, issuer, client, task, text...) counts the matching
events themselves, within the chart's window (the filter's range, else the last 24 hours).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from audit.models import AuditEvent, EventRollupHourly
from audit.queries_explorer import LIST_COLUMNS, EventFilter
from inventory import queries_names
from inventory.models import Identity

DEFAULT_WINDOW = timedelta(hours=24)
ERROR_OUTCOMES = ("error", "denied")
# Columns of `EventFilter.equals` the tool rollup (EventRollupHourly) keeps.
_ROLLUP_COLUMNS = {"source_id", "tool", "method", "outcome"}


def chart_window(event_filter: EventFilter, *, now: datetime | None = None) -> tuple:
    """(since, until) the chart covers: the filter's bounds, else the 24 hours before `until`
    (or now)."""
    until = event_filter.until or now or timezone.now()
    return event_filter.since or until - DEFAULT_WINDOW, until


def _from_rollup(event_filter: EventFilter) -> bool:
    return (
        not event_filter.text
        and set(event_filter.named) <= {"server"}
        and set(event_filter.equals or {}) <= _ROLLUP_COLUMNS
    )


def _rollup_rows(event_filter: EventFilter, since: datetime, until: datetime):
    # Rollups count whole hours: the hour `since` falls in counts whole.
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rows = EventRollupHourly.objects.filter(hour__gte=hour, hour__lt=until)
    if event_filter.equals:
        rows = rows.filter(**event_filter.equals)
    if event_filter.server_names is not None:
        rows = rows.filter(server_name__in=event_filter.server_names)
    return rows.order_by()


def _event_rows(event_filter: EventFilter, since: datetime, until: datetime):
    return dataclasses.replace(event_filter, since=since, until=until).queryset().order_by()


def activity(event_filter: EventFilter, *, now: datetime | None = None, tools: int = 5) -> dict:
    """{since, until, per_hour: [{hour, events, errors}], top_tools: [{server_name, tool,
    events}]} for the events the filter matches in the chart's window."""
    since, until = chart_window(event_filter, now=now)
    errors = Q(outcome__in=ERROR_OUTCOMES)
    if _from_rollup(event_filter):
        rows = _rollup_rows(event_filter, since, until)
        per_hour = rows.values("hour").annotate(n=Sum("events"), e=Sum("events", filter=errors))
        top = rows.exclude(tool="").values("server_name", "tool").annotate(n=Sum("events"))
    else:
        rows = _event_rows(event_filter, since, until)
        per_hour = (
            rows.annotate(hour=Trunc("time", "hour", tzinfo=UTC))
            .values("hour")
            .annotate(n=Count("id"), e=Count("id", filter=errors))
        )
        top = rows.exclude(tool="").values("server_name", "tool").annotate(n=Count("id"))
    counted = {r["hour"]: (r["n"], r["e"] or 0) for r in per_hour.order_by("hour")}
    return {
        "since": since,
        "until": until,
        "per_hour": _every_hour(counted, since, until) if counted else [],
        "top_tools": [
            {"server_name": r["server_name"], "tool": r["tool"], "events": r["n"]}
            for r in top.order_by("-n", "server_name", "tool")[:tools]
        ],
    }


def _every_hour(counted: dict, since: datetime, until: datetime) -> list[dict]:
    """[{hour, events, errors}] for every hour of the window, zeros included: a line drawn
    between the hours that had events alone would show a quiet day as a busy one."""
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rows = []
    while hour < until:
        events, errors = counted.get(hour, (0, 0))
        rows.append({"hour": hour, "events": events, "errors": errors})
        hour += timedelta(hours=1)
    return rows


def identity_activity(
    identity: Identity, *, since: datetime, limit: int = 20
) -> tuple[list[dict], dict]:
    """The identity's latest `limit` events since `since` (newest first) and {events, errors}
    over all of them: served by the (actor_subject, time) index of every partition."""
    rows = AuditEvent.objects.filter(
        actor_issuer=identity.issuer, actor_subject=identity.subject, time__gte=since
    )
    latest = list(rows.order_by("-time", "-id").values(*LIST_COLUMNS)[:limit])
    totals = rows.order_by().aggregate(
        events=Count("id"), errors=Count("id", filter=Q(outcome__in=ERROR_OUTCOMES))
    )
    return latest, totals


def with_names(rows: list[dict]) -> list[dict]:
    """The rows, each with `who`, `client_named` and `server_named`: the inventory's identity,
    client and server behind its keys (None when the inventory does not know them), read for
    the whole page in one query."""
    names = queries_names.names_for_keys(
        identities=((r["actor_issuer"], r["actor_subject"]) for r in rows),
        clients=(r["client_ref"] for r in rows),
        servers=(r["server_name"] for r in rows),
    )
    for row in rows:
        row["who"] = names.get(("identity", row["actor_issuer"], row["actor_subject"]))
        row["client_named"] = names.get(("client", row["client_ref"]))
        row["server_named"] = names.get(("server", row["server_name"]))
    return rows
