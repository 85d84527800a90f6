"""Revocations in a period (issue 16 §2): each revocation with its steps, its verification
(proof) and its residual window: what revocation could not close (an access token already
issued, a session) and until when.

The revocations are the revocation list's (governance.containment.reads.revocation_rows, so
`action`, `outcome`, `status`, `proof`, `actor`, `grant`, `identity`, `client` and `q` mean
what they mean on the page and the API), queued in the period.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from django.db.models import Count, QuerySet
from django.utils import timezone

from governance.containment import reads as containment_reads
from governance.containment.models import Revocation, RevocationStep
from governance.reports.document import Column, Figures, Report, Table
from governance.reports.kinds import controls
from governance.reports.kinds.params import filter_params, period

KIND = "revocations"
FILTERS = containment_reads.REVOCATION_SPEC.params()  # the revocation list's (sorted by queue time)

REVOCATION_COLUMNS = [
    Column("id", "Revocation", "int"),
    Column("action", "Action"),
    Column("target", "Target"),
    Column("reason", "Reason"),
    Column("requested_by", "Requested by"),
    Column("queued_at", "Queued", "datetime"),
    Column("finished_at", "Finished", "datetime"),
    Column("status", "Status"),
    Column("outcome", "Outcome"),
    Column("proof", "Verification"),
    Column("steps", "Steps", "int"),
    Column("steps_failed", "Acting steps failed or skipped", "int"),
    Column("residual_until", "Residual access until", "datetime"),
    Column("residual_hours", "Residual window (hours)", "float"),
    Column("residual", "What stayed usable"),
]
STEP_COLUMNS = [
    Column("revocation", "Revocation", "int"),
    Column("position", "Step", "int"),
    Column("kind", "Kind"),
    Column("operation", "Operation"),
    Column("description", "Description"),
    Column("connection", "IdP connection"),
    Column("state", "State"),
    Column("started_at", "Started", "datetime"),
    Column("finished_at", "Finished", "datetime"),
    Column("verified", "Verified"),
    Column("evidence", "Evidence"),
    Column("request", "Request"),
    Column("response", "Response"),
    Column("error", "Error"),
]


def revocations_in(params: Mapping, start: datetime, end: datetime) -> QuerySet:
    """The revocation list's rows for the filters, queued in [start, end)."""
    rows = containment_reads.revocation_rows(filter_params(params))
    return rows.filter(queued_at__gte=start, queued_at__lt=end)


def revocation_totals(revocations: QuerySet) -> dict[str, int]:
    """{revocations, by outcome (done/partial/failed/open), by proof, with a residual window}."""
    counts = revocations.order_by().aggregate(revocations=Count("pk", distinct=True))
    by = {"revocations": counts["revocations"]}
    for field, values in (("outcome", Revocation.Outcome), ("proof", Revocation.Proof)):
        counted = dict(
            Revocation.objects.filter(pk__in=revocations.values("pk"))
            .values_list(field)
            .annotate(n=Count("pk"))
            .order_by()
        )
        for value in values.values:
            by[f"{field}:{value}"] = counted.get(value, 0)
    by["residual"] = revocations.filter(residual_until__isnull=False).count()
    return by


def build(params: Mapping) -> Report:
    """Revocations queued in `period_start`..`period_end` (default: the last 90 days)."""
    start, end = period(params)
    revocations = revocations_in(params, start, end)  # a bad filter raises here
    totals = revocation_totals(revocations)
    figures = Figures(
        "Revocations in the period",
        [
            ("Revocations", totals["revocations"]),
            ("Done", totals["outcome:done"]),
            ("Partially done", totals["outcome:partial"]),
            ("Failed", totals["outcome:failed"]),
            ("Not finished", totals["outcome:"]),
            ("Verified", totals["proof:verified"]),
            ("Not verified", totals["proof:not_verified"]),
            ("Not checked yet", totals["proof:"]),
            ("With a residual window", totals["residual"]),
        ],
        controls=controls.REMOVAL,
    )
    rows = revocations.order_by("queued_at", "id")
    table = Table(
        "Revocations",
        REVOCATION_COLUMNS,
        (_revocation_row(r) for r in rows.iterator(chunk_size=500)),
        controls=controls.REMOVAL,
        row_count=totals["revocations"],
    )
    steps = Table(
        "Steps, with what was sent, answered and verified",
        STEP_COLUMNS,
        _step_rows(revocations),
        controls=controls.union(controls.REMOVAL, [controls.AU_10]),
        note="Request and response summaries never hold a secret or a token.",
    )
    return Report(
        kind=KIND,
        title="Revocations",
        generated_at=timezone.now(),
        period_start=start,
        period_end=end,
        parameters=filter_params(params),
        controls=controls.union(controls.REMOVAL, [controls.AU_10]),
        sections=[figures, table, steps],
        primary_table=1,
    )


def _revocation_row(r: Revocation) -> tuple:
    window = None
    if r.residual_until and r.finished_at:
        window = round(max((r.residual_until - r.finished_at).total_seconds(), 0) / 3600, 2)
    residual = "; ".join(
        f"{item.get('what', '')} until {item.get('until') or 'unknown'}" for item in r.residual
    )
    return (
        r.pk,
        r.get_action_display(),
        r.target_key,
        r.reason,
        r.requested_by,
        r.queued_at,
        r.finished_at,
        r.status,
        r.outcome or "not finished",
        r.proof or "not checked",
        r.step_count,
        r.failed_steps,
        r.residual_until,
        window,
        residual,
    )


def _step_rows(revocations: QuerySet):
    steps = (
        RevocationStep.objects.filter(revocation__in=revocations.values("pk"))
        .select_related("connection")
        .order_by("revocation_id", "position")
    )
    for s in steps.iterator(chunk_size=1000):
        yield (
            s.revocation_id,
            s.position,
            s.kind,
            s.operation,
            s.description,
            s.connection.name if s.connection else "",
            s.state,
            s.started_at,
            s.finished_at,
            {True: "yes", False: "no", None: ""}[s.verified],
            s.evidence,
            _summary(s.request_summary),
            _summary(s.response_summary),
            s.error,
        )


def _summary(summary: dict) -> str:
    return json.dumps(summary, sort_keys=True, default=str) if summary else ""
