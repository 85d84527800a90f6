"""Activity evidence for a period (issue 16 §2): events by identity, client, server, tool and
outcome; errors and denials; the integrity-chain verifications covering the period and the
chain head now; the retention in force.

Every count is read from the hourly rollups through audit.queries (the overview's functions),
never from the events themselves: 90 days of 10 million events cost as much as 90 days of
ten. The period is counted in whole hours (the rollups' grain): its start is taken down to the
hour, and on-the-hour bounds count exactly what the explorer lists for `?since=&until=`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone

from audit import queries as audit_queries
from audit.models import AuditEvent, ChainHead, ChainVerification, EventBatch, EventSource
from governance.reports.document import Chart, Column, Figures, Report, Table
from governance.reports.kinds import controls
from governance.reports.kinds.params import filter_params, period
from inventory.queries_names import names_for_keys

KIND = "activity_evidence"
ERROR_OUTCOMES = ("error", "denied")


def _on_the_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def build(params: Mapping) -> Report:
    """Activity evidence for `period_start`..`period_end` (default: the last 90 days)."""
    start, end = period(params)
    start = _on_the_hour(start)
    head = chain_head()  # read once: the figures and the file's named head are the same link
    sections = [
        *activity_sections(start, end),
        *chain_sections(start, end, head),
        *retention_sections(),
    ]
    return Report(
        kind=KIND,
        title="Activity evidence",
        generated_at=timezone.now(),
        period_start=start,
        period_end=end,
        parameters=filter_params(params),
        controls=controls.union(controls.ACTIVITY, controls.LOG_PROTECTION, controls.RETENTION),
        sections=sections,
        chain_head=head,
        primary_table=2,
    )


def activity_sections(start: datetime, end: datetime) -> list:
    """Totals, events per day, then who and what: identities, clients, servers, tools."""
    by_outcome = audit_queries.events_by_outcome(start, until=end)
    identities = audit_queries.top_identities(start, until=end, limit=None)
    clients = audit_queries.top_clients(start, until=end, limit=None)
    tools = audit_queries.top_tools(start, until=end, limit=None)
    by_server = audit_queries.outcomes_by_server(start, until=end)
    names = names_for_keys(
        identities=((r["actor_issuer"], r["actor_subject"]) for r in identities),
        clients=(r["client_ref"] for r in clients),
    )
    totals = Figures(
        "Activity in the period",
        [
            ("Events", sum(by_outcome.values())),
            ("Errors", by_outcome.get("error", 0)),
            ("Denials", by_outcome.get("denied", 0)),
            ("Identities acting", len(identities)),
            ("Clients acting", len(clients)),
            ("Servers called", len({r["server_name"] for r in by_server})),
            ("Tools called", len(tools)),
        ],
        controls=controls.ACTIVITY,
        note="Counted from the hourly rollups kept at ingestion (whole hours).",
    )
    return [
        totals,
        _per_day_chart(start, end),
        _identity_table(identities, names),
        _client_table(clients, names),
        _server_table(by_server),
        Table(
            "Events by tool",
            [Column("server", "Server"), Column("tool", "Tool"), Column("events", "Events", "int")],
            [(r["server_name"], r["tool"], r["events"]) for r in tools],
            controls=controls.ACTIVITY,
            row_count=len(tools),
        ),
        Table(
            "Events by outcome",
            [Column("outcome", "Outcome"), Column("events", "Events", "int")],
            sorted(by_outcome.items()),
            controls=controls.ACTIVITY,
            row_count=len(by_outcome),
        ),
    ]


def _per_day_chart(start: datetime, end: datetime) -> Chart:
    """Events and errors per UTC day, quiet days included (a line drawn between busy days
    alone would hide them)."""
    days: dict[str, list[int]] = {}
    day = start.astimezone(UTC).date()
    while day <= end.astimezone(UTC).date():
        days[day.isoformat()] = [0, 0]
        day += timedelta(days=1)
    for row in audit_queries.events_per_hour(start, until=end):
        day = days.setdefault(row["hour"].astimezone(UTC).date().isoformat(), [0, 0])
        day[0] += row["events"]
        day[1] += row["errors"]
    return Chart(
        "Events per day",
        "line",
        list(days),
        {
            "Events": [v[0] for v in days.values()],
            "Errors and denials": [v[1] for v in days.values()],
        },
        controls=[controls.AU_6, controls.CC7_2],
    )


def _identity_table(identities: list[dict], names: dict) -> Table:
    def named(row):
        found = names.get(("identity", row["actor_issuer"], row["actor_subject"]))
        return found.name if found else ""

    return Table(
        "Events by identity",
        [
            Column("identity", "Identity"),
            Column("issuer", "Issuer"),
            Column("subject", "Subject"),
            Column("events", "Events", "int"),
            Column("errors", "Errors and denials", "int"),
        ],
        [
            (named(r), r["actor_issuer"], r["actor_subject"], r["events"], r["errors"])
            for r in identities
        ],
        controls=controls.ACTIVITY,
        row_count=len(identities),
    )


def _client_table(clients: list[dict], names: dict) -> Table:
    def named(row):
        found = names.get(("client", row["client_ref"]))
        return found.name if found else ""

    return Table(
        "Events by client",
        [
            Column("client", "Client"),
            Column("client_id", "Client ID"),
            Column("events", "Events", "int"),
            Column("errors", "Errors and denials", "int"),
        ],
        [(named(r), r["client_ref"], r["events"], r["errors"]) for r in clients],
        controls=controls.ACTIVITY,
        row_count=len(clients),
    )


def _server_table(by_server: list[dict]) -> Table:
    """One row per server: its events, and its errors and denials (PCI DSS 10.2.1.4 asks for
    invalid access attempts)."""
    servers: dict[str, dict] = {}
    for row in by_server:
        counts = servers.setdefault(row["server_name"], {"events": 0, "error": 0, "denied": 0})
        counts["events"] += row["events"]
        if row["outcome"] in ERROR_OUTCOMES:
            counts[row["outcome"]] += row["events"]
    return Table(
        "Events, errors and denials by server",
        [
            Column("server", "Server"),
            Column("events", "Events", "int"),
            Column("errors", "Errors", "int"),
            Column("denials", "Denials", "int"),
        ],
        [(name, c["events"], c["error"], c["denied"]) for name, c in sorted(servers.items())],
        controls=controls.union(controls.ACTIVITY, [controls.PCI_10_2]),
        row_count=len(servers),
    )


def chain_head() -> dict | None:
    """{"seq", "digest"} of the integrity chain now (None before the first batch)."""
    head = ChainHead.objects.filter(pk=1).first()
    return {"seq": head.seq, "digest": head.digest} if head and head.seq else None


def covering_verification(start: datetime, end: datetime) -> ChainVerification | None:
    """The latest verification that checked every batch received in the period and found the
    chain intact: it ran after the period ended and from its start (or the chain's) on."""
    return (
        ChainVerification.objects.filter(ok=True, started_at__gte=end)
        .exclude(since__gt=start)
        .order_by("-started_at", "-id")
        .first()
    )


def chain_sections(start: datetime, end: datetime, head: dict | None) -> list:
    """The chain head, whether an intact verification covers the period, and every
    verification run since the period began."""
    covering = covering_verification(start, end)
    batches = EventBatch.objects.filter(received_at__gte=start, received_at__lt=end).aggregate(
        count=Count("pk"), n=Min("seq"), m=Max("seq")
    )
    runs = ChainVerification.objects.filter(started_at__gte=start).order_by("started_at", "id")
    figures = Figures(
        "Integrity chain",
        [
            ("Chain head sequence", head["seq"] if head else 0),
            ("Chain head digest", head["digest"] if head else ""),
            ("Batches received in the period", batches["count"]),
            ("First and last batch sequence", f"{batches['n'] or '-'} to {batches['m'] or '-'}"),
            ("Period covered by an intact verification", "yes" if covering else "no"),
            ("Covering verification", _verification_label(covering)),
        ],
        controls=controls.LOG_PROTECTION,
        note="A verification covers the period when it ran after the period ended, from the "
        "period's start (or the chain's) on, and found every batch and link intact.",
    )
    table = Table(
        "Chain verifications since the period began",
        [
            Column("started_at", "Started", "datetime"),
            Column("finished_at", "Finished", "datetime"),
            Column("since", "Checked from", "datetime"),
            Column("ok", "Intact"),
            Column("batches", "Batches", "int"),
            Column("events", "Events", "int"),
            Column("problem", "Problem"),
            Column("triggered_by", "Triggered by"),
        ],
        [
            (
                r.started_at,
                r.finished_at,
                r.since,
                "yes" if r.ok else "no",
                r.batches_checked,
                r.events_checked,
                r.problem,
                r.triggered_by,
            )
            for r in runs
        ],
        controls=controls.LOG_PROTECTION,
    )
    return [figures, table]


def _verification_label(run: ChainVerification | None) -> str:
    if run is None:
        return "none: run verify_audit_chain after the period's end"
    checked_from = run.since.isoformat() if run.since else "the chain's start"
    return f"#{run.pk} at {run.started_at.isoformat()}, from {checked_from}"


def retention_sections() -> list:
    """The retention in force: each source's days, the longest (what partition drops keep),
    the oldest event kept and the age past which events are refused."""
    sources = list(
        EventSource.objects.order_by("name").values_list("name", "retention_days", "enabled")
    )
    longest = max((days for _, days, _ in sources), default=0)
    oldest = AuditEvent.objects.order_by("time").values_list("time", flat=True).first()
    figures = Figures(
        "Retention in force",
        [
            ("Events kept for (days, the longest of the sources')", longest),
            ("Oldest event kept", oldest.isoformat() if oldest else "none"),
            ("Events older than this are refused (days)", settings.AUDIT_MAX_EVENT_AGE_DAYS),
            ("Hourly counts (rollups) kept", "indefinitely"),
        ],
        controls=controls.RETENTION,
        note="Events are stored in monthly partitions; a month is dropped once all of it is "
        "older than the longest retention of any source, so events stay up to a month longer.",
    )
    table = Table(
        "Retention by event source",
        [
            Column("source", "Source"),
            Column("retention_days", "Retention (days)", "int"),
            Column("enabled", "Enabled"),
        ],
        [(name, days, "yes" if enabled else "no") for name, days, enabled in sources],
        controls=controls.RETENTION,
        row_count=len(sources),
    )
    return [figures, table]
