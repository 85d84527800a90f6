"""Access-review reads for the pages, the API and the campaign report (one function each, so a
number cannot differ between them): a campaign's progress, the campaigns list, the open
campaigns on the overview, and a reviewer's queue (one ListSpec for page, API and OpenAPI)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from governance.access.lists.filters import Filter, ListSpec, filtered
from governance.reviews.models import Campaign, ReviewItem

Decision = ReviewItem.Decision
DECIDED = (Decision.KEEP, Decision.REVOKE, Decision.REDUCE)
# The queue's decision filter: "pending" stands for the empty decision (an empty query
# parameter means "any" in every list).
DECISION_FILTER = (("pending", "Not decided"), *[(d.value, d.label) for d in DECIDED])


def _decision(queryset, value: str):
    return queryset.filter(decision="" if value == "pending" else value)


def _unused_days(queryset, days: int):
    return queryset.filter(context__unused_days__gte=days)


QUEUE_SPEC = ListSpec(
    search=(
        "context__identity__name",
        "context__client__name",
        "context__client__client_id",
        "context__server__name",
        "context__grant__external_id",
    ),
    filters=(
        Filter("campaign", "campaign_id", kind="id", label="Campaign"),
        Filter(
            "recommendation",
            "recommendation",
            choices=tuple(ReviewItem.Recommendation.choices),
            label="Recommendation",
        ),
        Filter("decision", "", choices=DECISION_FILTER, label="Decision"),
        Filter("client", "context__client__id", kind="id", label="Client"),
        Filter("reviewer", "reviewer_id", kind="id", label="Reviewer"),
        Filter("unused_days", "", kind="count", label="unused for at least N days"),
    ),
    sorts={
        "id": "id",
        "unused_days": "context__unused_days",
        "identity": "context__identity__name",
        "client": "context__client__name",
        "recommendation": "recommendation",
        "decision": "decision",
        "decided_at": "decided_at",
    },
    default_sort="id",
    extra={"decision": _decision, "unused_days": _unused_days},
)


def decision_counts(campaign: Campaign) -> dict:
    """{"total", "pending", "decided", "keep", "revoke", "reduce", "percent"} (one query)."""
    counts = campaign.items.aggregate(
        total=Count("id"),
        pending=Count("id", filter=Q(decision="")),
        keep=Count("id", filter=Q(decision=Decision.KEEP)),
        revoke=Count("id", filter=Q(decision=Decision.REVOKE)),
        reduce=Count("id", filter=Q(decision=Decision.REDUCE)),
    )
    counts["decided"] = counts["total"] - counts["pending"]
    counts["percent"] = round(100 * counts["decided"] / counts["total"]) if counts["total"] else 0
    return counts


def reviewer_progress(campaign: Campaign) -> list[dict]:
    """Per reviewer: {"reviewer_id", "reviewer", "email", "total", "pending", "decided",
    "percent"}, most pending first."""
    rows = (
        campaign.items.values("reviewer_id", "reviewer__username", "reviewer__email")
        .annotate(total=Count("id"), pending=Count("id", filter=Q(decision="")))
        .order_by("-pending", "reviewer__username")
    )
    return [
        {
            "reviewer_id": row["reviewer_id"],
            "reviewer": row["reviewer__username"] or "(nobody)",
            "email": row["reviewer__email"] or "",
            "total": row["total"],
            "pending": row["pending"],
            "decided": row["total"] - row["pending"],
            "percent": round(100 * (row["total"] - row["pending"]) / row["total"]),
        }
        for row in rows
    ]


def campaign_progress(campaign: Campaign, now: datetime | None = None) -> dict:
    """Counts by decision, per reviewer, recommendations, the outcome of the revocations closing
    started, and whether it is overdue (the campaign page, the API and the campaign report)."""
    now = now or timezone.now()
    counts = decision_counts(campaign)
    # Closing revokes for "revoke" and "reduce" alike (reduce: revoke, then grant the kept scopes).
    revoke = Q(decision__in=[Decision.REVOKE, Decision.REDUCE])
    recommended = campaign.items.aggregate(
        revoke=Count("id", filter=Q(recommendation="revoke")),
        kept_against_advice=Count("id", filter=Q(recommendation="revoke", decision="keep")),
        # What closing's revocations did (all zero until the campaign closes).
        revoked_done=Count("id", filter=revoke & Q(revocation__outcome="done")),
        revoked_failed=Count(
            "id", filter=revoke & Q(revocation__outcome__in=["failed", "partial"])
        ),
        revoked_not_verified=Count("id", filter=revoke & Q(revocation__proof="not_verified")),
    )
    overdue = campaign.status == Campaign.Status.OPEN and now >= campaign.due_at
    return {
        **counts,
        "recommended_revoke": recommended["revoke"],
        "kept_against_advice": recommended["kept_against_advice"],
        "revoked_done": recommended["revoked_done"],
        "revoked_failed": recommended["revoked_failed"],
        "revoked_not_verified": recommended["revoked_not_verified"],
        "overdue": overdue,
        "overdue_items": counts["pending"] if overdue else 0,
        "by_reviewer": reviewer_progress(campaign),
    }


def campaign_rows(params: Mapping | None = None) -> QuerySet:
    """Campaigns, newest first, with item and decided counts (`?status=` filters)."""
    rows = Campaign.objects.select_related("created_by").annotate(
        total=Count("items"),
        pending=Count("items", filter=Q(items__decision="")),
        decided=Count("items", filter=~Q(items__decision="")),
    )
    status = (params or {}).get("status") or ""
    if status in Campaign.Status.values:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-id")


def open_campaigns(now: datetime | None = None) -> list[dict]:
    """Open and closing campaigns with their progress, soonest due first (the overview)."""
    now = now or timezone.now()
    rows = campaign_rows().exclude(status=Campaign.Status.CLOSED).order_by("due_at", "id")
    return [
        {
            "campaign": c,
            "total": c.total,
            "decided": c.decided,
            "pending": c.pending,
            "percent": round(100 * (c.total - c.pending) / c.total) if c.total else 0,
            "overdue": c.status == Campaign.Status.OPEN and now >= c.due_at,
        }
        for c in rows
    ]


def review_queue(params: Mapping, *, reviewer=None) -> QuerySet:
    """Items, QUEUE_SPEC applied; only `reviewer`'s when given (the "My reviews" page)."""
    items = ReviewItem.objects.select_related("campaign", "reviewer", "decided_by", "revocation")
    if reviewer is not None:
        items = items.filter(reviewer=reviewer)
    return filtered(QUEUE_SPEC, items, params)


def campaign_items(campaign: Campaign, params: Mapping | None = None) -> QuerySet:
    """One campaign's items, QUEUE_SPEC applied (its `campaign` filter is this one)."""
    return review_queue(params or {}).filter(campaign=campaign)


def pending_count(user) -> int:
    """Items waiting for `user` in open campaigns (the nav badge and the queue's heading)."""
    return ReviewItem.objects.filter(
        reviewer=user, decision="", campaign__status=Campaign.Status.OPEN
    ).count()
