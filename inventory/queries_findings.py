"""Findings over a period: opened, resolved, time to resolve by severity (median, p90), open
ones by age and by kind. The findings are the findings list's (inventory.queries.flags, so
`kind`, `severity`, `object_type` and `q` mean what they mean on the page and the API); the
findings report and any page showing these figures read them here."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Aggregate, Count, DurationField, F, Q, QuerySet
from django.utils import timezone

from inventory.models import SEVERITY_RANK, Finding

# Open findings by how long ago they were first seen: (label, at least, less than).
AGE_BUCKETS = (
    ("under 1 day", timedelta(0), timedelta(days=1)),
    ("1 to 7 days", timedelta(days=1), timedelta(days=7)),
    ("7 to 30 days", timedelta(days=7), timedelta(days=30)),
    ("30 to 90 days", timedelta(days=30), timedelta(days=90)),
    ("90 days or more", timedelta(days=90), None),
)
SEVERITIES = sorted(SEVERITY_RANK, key=SEVERITY_RANK.get, reverse=True)


class _Percentile(Aggregate):
    """percentile_cont(p) WITHIN GROUP (ORDER BY expression): an interval for intervals."""

    function = "percentile_cont"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, percentile: float, **extra):
        super().__init__(expression, percentile=percentile, output_field=DurationField(), **extra)


def opened_in(findings: QuerySet, start: datetime, end: datetime) -> QuerySet:
    """Findings first seen in [start, end)."""
    return findings.filter(raised_at__gte=start, raised_at__lt=end)


def resolved_in(findings: QuerySet, start: datetime, end: datetime) -> QuerySet:
    """Findings resolved in [start, end)."""
    return findings.filter(resolved_at__gte=start, resolved_at__lt=end)


def counts_by(findings: QuerySet, field: str) -> dict[str, int]:
    """{value of `field`: findings}."""
    rows = findings.order_by().values_list(field).annotate(n=Count("pk"))
    return dict(rows)


def time_to_resolve(findings: QuerySet, start: datetime, end: datetime) -> dict[str, dict]:
    """{severity: {"resolved", "median", "p90"}} for the findings resolved in the period, from
    first seen to resolved (timedelta; None when none was resolved), every severity listed."""
    took = F("resolved_at") - F("raised_at")
    rows = (
        resolved_in(findings, start, end)
        .order_by()
        .values("severity")
        .annotate(n=Count("pk"), median=_Percentile(took, 0.5), p90=_Percentile(took, 0.9))
    )
    found = {r["severity"]: r for r in rows}
    return {
        severity: {
            "resolved": found.get(severity, {}).get("n", 0),
            "median": found.get(severity, {}).get("median"),
            "p90": found.get(severity, {}).get("p90"),
        }
        for severity in SEVERITIES
    }


def open_by_age(findings: QuerySet, *, now: datetime | None = None) -> dict[str, int]:
    """{age bucket: open (unresolved) findings first seen that long ago}, every bucket listed."""
    now = now or timezone.now()
    still_open = findings.exclude(status=Finding.Status.RESOLVED).order_by()
    buckets = {}
    for n, (label, at_least, less_than) in enumerate(AGE_BUCKETS):
        age = Q(raised_at__lte=now - at_least)
        if less_than is not None:
            age &= Q(raised_at__gt=now - less_than)
        buckets[f"b{n}"] = (label, Count("pk", filter=age))
    counted = still_open.aggregate(**{key: count for key, (_, count) in buckets.items()})
    return {label: counted[key] for key, (label, _) in buckets.items()}  # one query


def open_findings_by_object(object_type: str, kind_prefixes: tuple[str, ...]) -> dict[str, dict]:
    """{object id: {"count", "kinds"}} of the unresolved findings of these kinds (prefixes,
    e.g. "oauth.") on objects of one type: the risk report's "metadata problems" column."""
    kinds = Q()
    for prefix in kind_prefixes:
        kinds |= Q(kind__startswith=prefix)
    rows = (
        Finding.objects.open()
        .filter(kinds, object_type=object_type)
        .values("object_id")
        .annotate(n=Count("pk"), kinds=ArrayAgg("kind", distinct=True, order_by="kind"))
        .order_by()
    )
    return {r["object_id"]: {"count": r["n"], "kinds": r["kinds"]} for r in rows}
