"""Findings in a period (issue 16 §2): opened and resolved in the period, time to resolve by
severity (median, p90), open ones by age, and all of it by kind. Figures come from
inventory.queries_findings over the findings list's rows (governance.findings.queries.findings,
the function behind the findings page and /api/v1/findings/: `q`, `severity`, `kind`,
`object_type`, `assignee`, first/last seen), so they equal the list's and the API's counts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from django.utils import timezone

from governance.findings import queries as findings_queries
from governance.reports.document import Chart, Column, Figures, Report, Table
from governance.reports.kinds import controls
from governance.reports.kinds.params import filter_params, period
from inventory import queries_findings
from inventory.models import Finding

KIND = "findings"
# The list's own status, sort and page make no sense for a period: the report takes every
# status (opened and resolved in the period, open now) and sorts its own tables.
_NOT_FILTERS = ("status", "sort", "page", "open")
FILTERS = findings_queries.FINDING_SPEC.params() - set(_NOT_FILTERS)  # its tables sort themselves


def build(params: Mapping) -> Report:
    """Findings for `period_start`..`period_end` (default: the last 90 days)."""
    start, end = period(params)
    filters = {k: v for k, v in filter_params(params).items() if k not in _NOT_FILTERS}
    findings = findings_queries.findings({**filters, "status": findings_queries.ALL})
    opened = queries_findings.opened_in(findings, start, end)
    resolved = queries_findings.resolved_in(findings, start, end)
    still_open = findings.exclude(status=Finding.Status.RESOLVED)
    by_age = queries_findings.open_by_age(findings)
    sections = [
        Figures(
            "Findings in the period",
            [
                ("Opened", opened.count()),
                ("Resolved", resolved.count()),
                ("Open now", still_open.count()),
                *(
                    (f"Open now: {severity}", n)
                    for severity, n in _every_severity(
                        queries_findings.counts_by(still_open, "severity")
                    ).items()
                ),
            ],
            controls=controls.MONITORING,
        ),
        _time_to_resolve_table(findings, start, end),
        Chart(
            "Open findings by age",
            "bar",
            list(by_age),
            {"Open findings": list(by_age.values())},
            controls=controls.MONITORING,
            note="Age: since the finding was first seen; open includes acknowledged and "
            "suppressed findings.",
        ),
        _by_kind_table(opened, resolved, still_open),
        _list_table(opened, resolved),
    ]
    return Report(
        kind=KIND,
        title="Findings",
        generated_at=timezone.now(),
        period_start=start,
        period_end=end,
        parameters=filters,
        controls=controls.MONITORING,
        sections=sections,
        primary_table=4,
    )


def _every_severity(counts: dict) -> dict:
    return {severity: counts.get(severity, 0) for severity in queries_findings.SEVERITIES}


def _hours(duration: timedelta | None) -> float | None:
    return None if duration is None else round(duration.total_seconds() / 3600, 2)


def _time_to_resolve_table(findings, start, end) -> Table:
    by_severity = queries_findings.time_to_resolve(findings, start, end)
    return Table(
        "Time to resolve by severity (findings resolved in the period)",
        [
            Column("severity", "Severity"),
            Column("resolved", "Resolved", "int"),
            Column("median_hours", "Median (hours)", "float"),
            Column("p90_hours", "90th percentile (hours)", "float"),
        ],
        [
            (severity, t["resolved"], _hours(t["median"]), _hours(t["p90"]))
            for severity, t in by_severity.items()
        ],
        controls=controls.MONITORING,
        row_count=len(by_severity),
    )


def _by_kind_table(opened, resolved, still_open) -> Table:
    counts = [queries_findings.counts_by(rows, "kind") for rows in (opened, resolved, still_open)]
    kinds = sorted(set().union(*counts))
    return Table(
        "By kind",
        [
            Column("kind", "Kind"),
            Column("opened", "Opened in the period", "int"),
            Column("resolved", "Resolved in the period", "int"),
            Column("open", "Open now", "int"),
        ],
        [(kind, *(c.get(kind, 0) for c in counts)) for kind in kinds],
        controls=controls.MONITORING,
        row_count=len(kinds),
    )


def _list_table(opened, resolved) -> Table:
    """Every finding opened or resolved in the period, oldest first."""
    rows = (opened | resolved).distinct().order_by("raised_at", "id")
    values = rows.values_list(
        "id",
        "kind",
        "severity",
        "status",
        "object_type",
        "object_repr",
        "summary",
        "raised_at",
        "last_raised_at",
        "times_raised",
        "resolved_at",
        "resolved_by",
        "resolution",
        "resolution_note",
    )
    return Table(
        "Findings opened or resolved in the period",
        [
            Column("id", "Finding", "int"),
            Column("kind", "Kind"),
            Column("severity", "Severity"),
            Column("status", "Status"),
            Column("object_type", "Object type"),
            Column("object", "Object"),
            Column("summary", "Summary"),
            Column("raised_at", "First seen", "datetime"),
            Column("last_raised_at", "Last seen", "datetime"),
            Column("times_raised", "Times seen", "int"),
            Column("resolved_at", "Resolved", "datetime"),
            Column("resolved_by", "Resolved by"),
            Column("resolution", "Resolution"),
            Column("resolution_note", "Note"),
        ],
        values.iterator(chunk_size=2000),
        controls=controls.MONITORING,
    )
