"""Reads for findings: the one list declaration (FINDING_SPEC) behind the page, the API and its
OpenAPI parameters, the counts by severity and kind beside the list, the overview's severity
counts, the rules page's open counts and the detail page's evidence links.

The list's default is "needs attention": open, or suppressed past its end (what a team must look
at now). `status=all` shows every finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.models import AuditEvent, EventDedup, EventSource
from governance.access.lists.filters import Filter, InvalidFilter, ListSpec, filtered
from inventory.finding_rules import RULES, RULES_BY_KIND
from inventory.models import SEVERITY_RANK, ClientDocument, Finding, Grant

ATTENTION, ALL = "attention", "all"
STATUS_CHOICES = (
    (ATTENTION, "Needs attention"),
    *Finding.Status.choices,
    (ALL, "Any status"),
)
SEVERITIES = [value for value, _ in Finding.Severity.choices]  # info .. critical
OBJECT_TYPES = tuple(sorted({(rule.object_type, rule.object_type) for rule in RULES}))
# Evidence the detail page resolves to links, at most this many of each kind.
EVIDENCE_LINKS = 20


def _status(queryset, value: str):
    if value == ATTENTION:
        return queryset.needs_attention()
    return queryset if value == ALL else queryset.filter(status=value)


def _assignee(queryset, value: str):
    """A username, or "none" for unassigned findings."""
    if value == "none":
        return queryset.filter(assignee__isnull=True)
    return queryset.filter(assignee__username=value)


def _moment(param: str, raw: str, *, end_of_day: bool) -> datetime:
    """An ISO 8601 date or timestamp; a bare date is its whole day (start, or end for `_before`)."""
    value = parse_datetime(raw) if "T" in raw or " " in raw else None
    if value is None:
        try:
            day = parse_date(raw)
        except ValueError:
            day = None
        if day is None:
            raise InvalidFilter(param, f"{raw[:40]!r} is not an ISO 8601 date or timestamp")
        value = datetime.combine(day, time.max if end_of_day else time.min)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _range(field: str, param: str, lookup: str):
    def apply(queryset, raw: str):
        try:
            moment = _moment(param, raw, end_of_day=lookup == "lte")
        except (ValueError, OverflowError) as exc:
            if isinstance(exc, InvalidFilter):
                raise
            raise InvalidFilter(param, f"{raw[:40]!r} is out of range") from exc
        return queryset.filter(**{f"{field}__{lookup}": moment})

    return apply


FINDING_SPEC = ListSpec(
    search=("summary", "object_repr", "kind", "object_id"),
    filters=(
        Filter("status", "", choices=STATUS_CHOICES, label="status (default: needs attention)"),
        Filter("severity", "severity", choices=tuple(Finding.Severity.choices)),
        Filter("kind", "kind", kind="text", label="rule kind, e.g. client.blocked_with_grants"),
        Filter("object_type", "object_type", choices=OBJECT_TYPES, label="object type"),
        Filter("assignee", "", kind="text", label='assignee username, or "none"'),
        Filter("first_seen_after", "", kind="text", label="first seen on or after (ISO 8601)"),
        Filter("first_seen_before", "", kind="text", label="first seen on or before (ISO 8601)"),
        Filter("last_seen_after", "", kind="text", label="last seen on or after (ISO 8601)"),
        Filter("last_seen_before", "", kind="text", label="last seen on or before (ISO 8601)"),
    ),
    sorts={
        "severity": "severity_rank",
        "last_seen": "last_raised_at",
        "first_seen": "raised_at",
        "times_seen": "times_raised",
    },
    default_sort="-severity",
    extra={
        "status": _status,
        "assignee": _assignee,
        "first_seen_after": _range("raised_at", "first_seen_after", "gte"),
        "first_seen_before": _range("raised_at", "first_seen_before", "lte"),
        "last_seen_after": _range("last_raised_at", "last_seen_after", "gte"),
        "last_seen_before": _range("last_raised_at", "last_seen_before", "lte"),
    },
)


def with_severity_rank(queryset: QuerySet) -> QuerySet:
    """Annotate `severity_rank` (info 0 .. critical 3), so "most severe first" sorts by meaning."""
    return queryset.annotate(
        severity_rank=Case(
            *(When(severity=name, then=Value(rank)) for name, rank in SEVERITY_RANK.items()),
            default=Value(-1),
            output_field=IntegerField(),
        )
    )


def _with_default_status(params: Mapping) -> dict:
    """The parameters as a plain dict, with status defaulting to "needs attention"."""
    values = {key: params.get(key) for key in params}
    if not (values.get("status") or "").strip():
        values["status"] = ATTENTION
    return values


def findings(params: Mapping) -> QuerySet:
    """Findings for the list page and the API (with their assignee), filtered and sorted."""
    base = with_severity_rank(Finding.objects.select_related("assignee"))
    return filtered(FINDING_SPEC, base, _with_default_status(params))


def facet_counts(params: Mapping) -> dict:
    """Counts beside the list: by severity (under every filter but severity) and by kind (under
    every filter but kind), so each facet link says how many clicking it would show."""
    params = _with_default_status(params)
    without_severity = {k: v for k, v in params.items() if k not in ("severity", "sort", "page")}
    without_kind = {k: v for k, v in params.items() if k not in ("kind", "sort", "page")}
    by_severity = dict(
        findings(without_severity).order_by().values_list("severity").annotate(n=Count("id"))
    )
    by_kind = (
        findings(without_kind).order_by().values("kind").annotate(n=Count("id")).order_by("-n")
    )
    return {
        "severity": [(s, by_severity.get(s, 0)) for s in reversed(SEVERITIES)],
        "kind": [(row["kind"], row["n"], _title(row["kind"])) for row in by_kind],
    }


def _title(kind: str) -> str:
    rule = RULES_BY_KIND.get(kind)
    return rule.title if rule else kind


def severity_counts() -> dict[str, int]:
    """{severity: findings needing attention}, every severity present (the overview's chart)."""
    counts = dict(
        Finding.objects.needs_attention().order_by().values_list("severity").annotate(n=Count("id"))
    )
    return {severity: counts.get(severity, 0) for severity in SEVERITIES}


def open_counts_by_kind() -> dict[str, int]:
    """{kind: unresolved findings} for the rules page."""
    return dict(Finding.objects.open().order_by().values_list("kind").annotate(n=Count("id")))


def history(finding: Finding) -> QuerySet:
    """Every change of the finding, oldest first (written by the trigger)."""
    return finding.changes.order_by("at", "id")


def _ids(details: dict, *keys: str) -> list:
    """The evidence ids under these keys (a list or one value), deduplicated, in order."""
    found = []
    for key in keys:
        value = details.get(key)
        for item in value if isinstance(value, list) else ([value] if value else []):
            if item not in found and isinstance(item, (str, int)):
                found.append(item)
    return found


def _int_ids(values) -> list[int]:
    return [int(v) for v in values if str(v).isdigit() and len(str(v)) < 19]


def evidence(finding: Finding) -> dict:
    """The finding's evidence, resolved to what the pages can link: events (event id -> the
    stored event's pk, found through the dedup table's (source, event id, time) so the
    partitioned store is read by its (source, time) index), grants and document versions."""
    details = finding.details if isinstance(finding.details, dict) else {}
    event_ids = [str(e) for e in _ids(details, "event_ids", "event_id")][:EVIDENCE_LINKS]
    grant_ids = _int_ids(_ids(details, "grant_ids", "grant_id"))[:EVIDENCE_LINKS]
    version_ids = _int_ids(_ids(details, "document_version_ids", "document_version_id"))
    grants = list(Grant.objects.filter(pk__in=grant_ids).select_related("client", "subject"))
    return {
        "events": _events(event_ids),
        "grants": grants,
        "missing_grants": sorted(set(grant_ids) - {grant.pk for grant in grants}),
        "versions": list(
            ClientDocument.objects.filter(pk__in=version_ids[:EVIDENCE_LINKS]).order_by("pk")
        ),
    }


def _events(event_ids: list[str]) -> list[tuple[str, int | None]]:
    """[(event id, stored event pk or None)] in the finding's order.

    The dedup table's key is (source, event id): naming every source (a few dozen at most) lets
    PostgreSQL probe that index for each pair instead of scanning it for the event ids alone."""
    if not event_ids:
        return []
    sources = list(EventSource.objects.values_list("pk", flat=True))
    keys = list(
        EventDedup.objects.filter(source_id__in=sources, event_id__in=event_ids).values_list(
            "source_id", "event_id", "time"
        )
    )
    pks = {}
    if keys:
        match = Q()
        for source_id, event_id, at in keys:
            match |= Q(source_id=source_id, event_id=event_id, time=at)
        pks = dict(AuditEvent.objects.filter(match).values_list("event_id", "id"))
    return [(event_id, pks.get(event_id)) for event_id in event_ids]
