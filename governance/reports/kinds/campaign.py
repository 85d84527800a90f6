"""An access-review campaign's evidence (issue 16 §1-2): every item with its reviewer,
decision, justification and time, and the outcome of the revocation a "revoke" carried out;
summary figures. A closed campaign is its frozen record (its items do not change after close;
the record's SHA-256 is named so it can be checked against the stored record); an open one is
its live state, and says so.

Its figures and rows come from governance.reviews.queries, the functions behind the campaign
page and /api/v1/review-campaigns/<id>/ (and its items/), so a number cannot differ between them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from django.db.models import QuerySet
from django.utils import timezone

from governance.access.lists.filters import InvalidFilter, parse_id
from governance.reports.document import Column, Figures, Report, Table
from governance.reports.kinds import controls
from governance.reports.kinds.params import filter_params
from governance.reviews import queries as review_queries
from governance.reviews.models import Campaign, ReviewItem
from governance.reviews.scope import describe

KIND = "campaign"

ITEM_COLUMNS = [
    Column("item", "Item", "int"),
    Column("grant", "Grant", "int"),
    Column("identity", "Identity"),
    Column("client", "Client"),
    Column("server", "Server"),
    Column("scopes", "Scopes", "list"),
    Column("last_used_at", "Last used (when reviewed)"),
    Column("recommendation", "Recommendation"),
    Column("recommendation_reason", "Why"),
    Column("reviewer", "Reviewer"),
    Column("decision", "Decision"),
    Column("keep_scopes", "Scopes kept", "list"),
    Column("justification", "Justification"),
    Column("decided_by", "Decided by"),
    Column("decided_at", "Decided", "datetime"),
    Column("revocation", "Revocation", "int"),
    Column("revocation_outcome", "Revocation outcome"),
    Column("revocation_proof", "Revocation verification"),
    Column("outcome", "What closing did"),
]


def _campaign(params: Mapping) -> Campaign:
    raw = filter_params(params).get("campaign_id", "")
    if not raw:
        raise InvalidFilter("campaign_id", "is required: which campaign")
    campaign = Campaign.objects.filter(pk=parse_id("campaign_id", raw)).first()
    if campaign is None:
        raise InvalidFilter("campaign_id", f"no campaign has the id {raw}")
    return campaign


def build(params: Mapping) -> Report:
    """The evidence of the campaign `campaign_id`."""
    campaign = _campaign(params)
    closed = campaign.status == Campaign.Status.CLOSED
    progress = review_queries.campaign_progress(campaign)
    state = "closed: the frozen record" if closed else f"{campaign.status}: live, not final"
    about = Figures(
        "Campaign",
        [
            ("Name", campaign.name),
            ("State", state),
            ("Opened", campaign.created_at.isoformat(timespec="seconds")),
            ("Due", campaign.due_at.isoformat(timespec="seconds")),
            (
                "Closed",
                campaign.closed_at.isoformat(timespec="seconds") if campaign.closed_at else "",
            ),
            ("Closed by", campaign.closed_by.get_username() if campaign.closed_by else ""),
            ("Reviewers chosen by", campaign.get_reviewer_rule_display()),
            ("Scope", describe(campaign.scope)),
            ("Record SHA-256", campaign.record_sha256 if closed else ""),
        ],
        controls=controls.ACCESS_REVIEW,
        note="" if closed else "The campaign is still open: decisions may change until it closes.",
    )
    summary = Figures(
        "Decisions",
        [
            ("Items", progress["total"]),
            ("Decided", progress["decided"]),
            ("Pending", progress["pending"]),
            ("Keep", progress["keep"]),
            ("Revoke", progress["revoke"]),
            ("Reduce scopes", progress["reduce"]),
            ("Kept against the recommendation (justified)", progress["kept_against_advice"]),
            ("Revocations done", progress["revoked_done"]),
            ("Revocations failed or partial", progress["revoked_failed"]),
            ("Revocations not verified", progress["revoked_not_verified"]),
        ],
        controls=controls.union(controls.ACCESS_REVIEW, controls.REMOVAL),
    )
    items = Table(
        "Items",
        ITEM_COLUMNS,
        _item_rows(_items(campaign)),
        controls=controls.union(controls.ACCESS_REVIEW, [controls.AU_10]),
        row_count=progress["total"],
    )
    return Report(
        kind=KIND,
        title=f"Access review: {campaign.name}",
        generated_at=timezone.now(),
        period_start=campaign.created_at,
        period_end=campaign.closed_at if closed else None,
        parameters={"campaign_id": campaign.pk},
        controls=controls.union(controls.ACCESS_REVIEW, controls.REMOVAL, [controls.AU_10]),
        sections=[about, summary, items],
        primary_table=2,
    )


def _items(campaign: Campaign) -> QuerySet:
    """The API's items of the campaign in id order, with the grants' current names joined."""
    return review_queries.campaign_items(campaign, {"sort": "id"}).select_related(
        "grant__subject", "grant__client", "grant__server"
    )


def _recorded(item: ReviewItem, key: str) -> str:
    """What the item's context (governance/reviews/items.snapshot) recorded: an object's name,
    or a plain value."""
    value = (item.context or {}).get(key)
    if isinstance(value, dict):
        value = value.get("name") or value.get("client_id")
    return str(value or "")


def _item_rows(items: QuerySet) -> Iterator[tuple]:
    """One tuple per item: who, what and the decision; the grant's current names when it still
    exists, else what the item's context recorded when it was made."""
    for item in items.iterator(chunk_size=1000):
        grant = item.grant
        subject = grant.subject if grant else None
        revocation = item.revocation
        yield (
            item.pk,
            item.grant_id,
            str(subject) if subject else _recorded(item, "identity"),
            (grant.client.name or grant.client.client_id) if grant else _recorded(item, "client"),
            (grant.server.name if grant.server else grant.resource)
            if grant
            else (_recorded(item, "server") or _recorded(item, "resource")),
            list(grant.scopes) if grant else (item.context or {}).get("scopes", []),
            _recorded(item, "last_used_at") or "never",
            item.recommendation,
            item.recommendation_reason,
            item.reviewer.get_username() if item.reviewer else "",
            item.decision or "pending",
            list(item.keep_scopes),
            item.justification,
            item.decided_by.get_username() if item.decided_by else "",
            item.decided_at,
            item.revocation_id,
            (revocation.outcome or "not finished") if revocation else "",
            (revocation.proof or "not checked") if revocation else "",
            item.outcome,
        )
