"""Access-review campaigns: the writes (keyword-only, actor first; each records an admin action
in its transaction).

- open_campaign: the grants in scope become items in one bulk_create, each with its reviewer,
  context snapshot and recommendation (items.py).
- decide / bulk_decide: a reviewer (or an Admin) decides keep, revoke or reduce; keeping what
  the console recommends revoking needs a justification (the database refuses it too).
- close_campaign: OPEN -> CLOSING; every "revoke" and "reduce" decision starts a containment
  revocation of its grant (reduce: the grant is revoked and the scopes to grant again are noted:
  no IdP we act through narrows an existing grant in place, so a smaller grant is a new consent).
- finish_closing: once none of those revocations is still running, CLOSING -> CLOSED and the
  record is frozen (record.py). Called after close (by a task that polls while revocations run)
  and by the beat sweeper; safe to call any number of times.
- send_reminders (reminders.py): email at the campaign's reminder marks.
"""

from __future__ import annotations

from datetime import datetime

from celery import current_app
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from governance.access.records import record_admin_action
from governance.access.roles import ADMIN, has_role
from governance.containment import services as containment
from governance.containment.models import Revocation
from governance.reviews import items as drafting
from governance.reviews import queries
from governance.reviews import record as records
from governance.reviews.models import Campaign, ReviewItem
from governance.reviews.reminders import send_reminders  # noqa: F401 - the services' façade
from governance.reviews.scope import clean_scope, grants_in_scope

Decision = ReviewItem.Decision
FINISH_TASK = "governance.reviews.finish_closing"
MAX_REMINDER_DAYS = 365


@transaction.atomic
def open_campaign(
    *,
    actor,
    name: str,
    scope: dict | None,
    reviewer_rule: str,
    reviewers: list | None = None,
    fallback_reviewer=None,
    due_at: datetime,
    remind_days_before: list[int] | None = None,
    description: str = "",
    request=None,
    now: datetime | None = None,
) -> Campaign:
    """Open a campaign over the active grants in `scope`; ValidationError naming the field."""
    now = now or timezone.now()
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "a campaign needs a name"})
    if reviewer_rule not in Campaign.ReviewerRule.values:
        allowed = ", ".join(Campaign.ReviewerRule.values)
        raise ValidationError({"reviewer_rule": f"{reviewer_rule!r} is not one of {allowed}"})
    reviewers = list(reviewers or [])
    if reviewer_rule == Campaign.ReviewerRule.NAMED and not reviewers:
        raise ValidationError({"reviewers": "name at least one reviewer"})
    if due_at is None or due_at <= now:
        raise ValidationError({"due_at": "the due date must be in the future"})
    marks = _reminder_marks(remind_days_before)
    scope = clean_scope(scope)
    grants = grants_in_scope(scope, now).select_related(
        "subject__owner", "subject__sponsor", "subject__manager", "client__owner", "server"
    )
    drafts = drafting.drafts(grants, rule=reviewer_rule, now=now)
    if not drafts:
        raise ValidationError({"scope": "no active grant matches this scope"})
    assigned = drafting.assign(drafts, fallback=fallback_reviewer, named=reviewers)
    if assigned.unassigned:
        raise ValidationError(
            {
                "fallback_reviewer": f"{len(assigned.unassigned)} grant(s) have no owner who is a "
                "console user: name a fallback reviewer or named reviewers"
            }
        )
    campaign = Campaign.objects.create(
        name=name[:200],
        description=description or "",
        scope=scope,
        reviewer_rule=reviewer_rule,
        fallback_reviewer=fallback_reviewer,
        due_at=due_at,
        remind_days_before=marks,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    campaign.reviewers.set(reviewers)
    ReviewItem.objects.bulk_create(
        [
            ReviewItem(
                campaign=campaign,
                grant=d.grant,
                context=d.context,
                reviewer=d.reviewer,
                recommendation=d.recommendation,
                recommendation_reason=d.reason[:300],
            )
            for d in drafts
        ],
        batch_size=1000,
    )
    record_admin_action(
        actor=actor,
        action="review_campaign.opened",
        obj=campaign,
        after={
            "scope": scope,
            "reviewer_rule": reviewer_rule,
            "reviewers": [u.get_username() for u in reviewers],
            "fallback_reviewer": fallback_reviewer.get_username() if fallback_reviewer else None,
            "due_at": due_at,
            "remind_days_before": marks,
            "items": len(drafts),
            "assigned": {
                "by_owner": assigned.by_owner,
                "by_fallback": assigned.by_fallback,
                "in_turn": assigned.in_turn,
            },
        },
        request=request,
    )
    return campaign


def decide(
    *,
    item: ReviewItem,
    by,
    decision: str,
    justification: str = "",
    keep_scopes: list[str] | None = None,
    request=None,
    now: datetime | None = None,
) -> ReviewItem:
    """Record one decision (a later one replaces it while the campaign is open)."""
    if not may_decide(by, item):
        raise PermissionDenied("Only the item's reviewer or an Admin decides it.")
    justification = (justification or "").strip()
    keep_scopes = _clean_keep_scopes(decision, keep_scopes, item)
    _check_decision(decision, justification, item.recommendation)
    values = {
        "decision": decision,
        "justification": justification,
        "keep_scopes": keep_scopes,
        "decided_by": by,
        "decided_at": now or timezone.now(),
    }
    with transaction.atomic():
        before = {"decision": item.decision, "justification": item.justification}
        if not _open_items().filter(pk=item.pk).update(**values):
            raise ValidationError({"campaign": "the campaign is closed: decisions are final"})
        for key, value in values.items():
            setattr(item, key, value)
        record_admin_action(
            actor=by,
            action="review_item.decided",
            obj=item,
            before=before,
            after={k: v for k, v in values.items() if k != "decided_by"},
            request=request,
        )
    return item


def bulk_decide(
    *,
    items: QuerySet,
    by,
    decision: str,
    justification: str = "",
    request=None,
    now: datetime | None = None,
) -> int:
    """Decide keep or revoke for every item of `items` (a filtered queue) that `by` may decide,
    in one UPDATE; "reduce" names scopes per grant, so it is decided one item at a time."""
    if decision not in (Decision.KEEP, Decision.REVOKE):
        raise ValidationError({"decision": "bulk decisions are keep or revoke"})
    justification = (justification or "").strip()
    if not has_role(by, ADMIN):
        items = items.filter(reviewer=by)
    items = items.filter(pk__in=_open_items().values("pk"))
    if decision == Decision.KEEP and not justification:
        against = items.filter(recommendation=ReviewItem.Recommendation.REVOKE).count()
        if against:
            raise ValidationError(
                {
                    "justification": f"{against} of these item(s) are recommended for revocation: "
                    "a justification is required to keep them"
                }
            )
    with transaction.atomic():
        ids = list(items.select_for_update().values_list("pk", flat=True))
        decided = ReviewItem.objects.filter(pk__in=ids).update(
            decision=decision,
            justification=justification,
            keep_scopes=[],
            decided_by=by,
            decided_at=now or timezone.now(),
        )
        if decided:
            record_admin_action(
                actor=by,
                action="review_item.bulk_decided",
                object_type="governance.reviewitem",
                object_id=",".join(map(str, ids))[:200],
                object_repr=f"{decided} review item(s)",
                after={"decision": decision, "justification": justification, "items": ids},
                request=request,
            )
    return decided


def may_decide(user, item: ReviewItem) -> bool:
    """The item's reviewer, or an Admin."""
    return user is not None and (item.reviewer_id == user.pk or has_role(user, ADMIN))


def close_campaign(*, campaign: Campaign, actor, request=None) -> Campaign:
    """OPEN -> CLOSING and a revocation per "revoke"/"reduce" decision; the campaign becomes
    CLOSED (record frozen) once those revocations end (finish_closing)."""
    with transaction.atomic():
        claimed = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.OPEN).update(
            status=Campaign.Status.CLOSING,
            closed_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if not claimed:
            raise ValidationError({"campaign": "only an open campaign can be closed"})
        campaign.refresh_from_db()
        started = [_carry_out(item, campaign, actor) for item in _to_revoke(campaign)]
        campaign.items.filter(decision=Decision.KEEP).update(outcome="Kept.")
        campaign.items.filter(decision=Decision.PENDING).update(
            outcome="Not decided by the close: left as it was."
        )
        record_admin_action(
            actor=actor,
            action="review_campaign.closing",
            obj=campaign,
            after={
                "revocations": [r for r in started if r],
                "progress": queries.decision_counts(campaign),
            },
            request=request,
        )
        # By name: tasks.py imports this module. A registered task (not send_task) so an eager
        # setup runs it in place, after the revocations queued before it in this transaction.
        transaction.on_commit(lambda: current_app.tasks[FINISH_TASK].delay(campaign.pk))
    return campaign


def finish_closing(campaign_id: int, *, now: datetime | None = None) -> bool:
    """CLOSING -> CLOSED with the frozen record once no revocation of it runs; True when the
    campaign is closed (now or before)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != Campaign.Status.CLOSING:
            return campaign is not None and campaign.status == Campaign.Status.CLOSED
        revocations = Revocation.objects.filter(review_items__campaign=campaign)
        if (
            revocations.filter(status__in=Revocation.OPEN_STATUSES).exists()
            or revocations.filter(outcome="").exists()
        ):
            return False
        _note_revocation_outcomes(campaign)
        campaign.status, campaign.closed_at = Campaign.Status.CLOSED, now or timezone.now()
        campaign.record = records.build(campaign)
        campaign.record_sha256 = records.digest(campaign.record)
        campaign.save(update_fields=["status", "closed_at", "record", "record_sha256"])
        record_admin_action(
            actor=None,
            action="review_campaign.closed",
            obj=campaign,
            after={"record_sha256": campaign.record_sha256, "items": len(campaign.record["items"])},
        )
    return True


def finish_closing_all() -> list[int]:
    """The sweeper: try every CLOSING campaign (a lost poll message cannot leave one closing)."""
    closing = Campaign.objects.filter(status=Campaign.Status.CLOSING).values_list("pk", flat=True)
    return [pk for pk in list(closing) if finish_closing(pk)]


# --- helpers ----------------------------------------------------------------------------------


def _open_items() -> QuerySet:
    return ReviewItem.objects.filter(campaign__status=Campaign.Status.OPEN)


def _check_decision(decision: str, justification: str, recommendation: str) -> None:
    if decision not in (Decision.KEEP, Decision.REVOKE, Decision.REDUCE):
        raise ValidationError({"decision": "choose keep, revoke or reduce"})
    if (
        decision == Decision.KEEP
        and recommendation == ReviewItem.Recommendation.REVOKE
        and not justification
    ):
        raise ValidationError(
            {"justification": "the console recommends revoking this grant: say why it stays"}
        )
    if len(justification) > 5000:
        raise ValidationError({"justification": "at most 5000 characters"})


def _clean_keep_scopes(decision: str, keep_scopes, item: ReviewItem) -> list[str]:
    if decision != Decision.REDUCE:
        return []
    held = set(item.context.get("scopes") or [])
    keep = sorted({s.strip() for s in (keep_scopes or []) if s and s.strip()})
    if not keep:
        raise ValidationError({"keep_scopes": "name the scopes to keep (to keep none, revoke)"})
    unknown = [s for s in keep if s not in held]
    if unknown:
        raise ValidationError({"keep_scopes": f"{unknown[0]!r} is not a scope this grant holds"})
    if set(keep) == held:
        raise ValidationError({"keep_scopes": "keeping every scope is a keep, not a reduce"})
    return keep


def _reminder_marks(raw) -> list[int]:
    marks = set()
    for value in raw or []:
        text = str(value).strip()
        if not (text.isascii() and text.isdigit()) or int(text[:4]) > MAX_REMINDER_DAYS:
            raise ValidationError(
                {"remind_days_before": f"{text[:20]!r} is not a number of days (0-365)"}
            )
        marks.add(int(text))
    return sorted(marks, reverse=True)


def _to_revoke(campaign: Campaign):
    return (
        campaign.items.filter(decision__in=[Decision.REVOKE, Decision.REDUCE])
        .select_related("grant", "decided_by")
        .order_by("id")
    )


def _carry_out(item: ReviewItem, campaign: Campaign, actor) -> int | None:
    """Start the revocation of one item's grant; its outcome says why when none could start."""
    if item.grant is None or item.grant.status != item.grant.Status.ACTIVE:
        status = "gone from the inventory" if item.grant is None else item.grant.status
        item.outcome = f"Nothing to revoke: the grant is {status}."
        item.save(update_fields=["outcome"])
        return None
    who = item.decided_by.get_username() if item.decided_by else "a reviewer"
    reason = f'Access review "{campaign.name}" (campaign #{campaign.pk}): {who} decided '
    reason += f"{item.decision}" + (f" — {item.justification}" if item.justification else "")
    try:
        with transaction.atomic():
            revocation = containment.start_revocation(
                actor=actor, action=Revocation.Action.GRANT, grant=item.grant, reason=reason[:2000]
            )
    except ValueError as exc:  # NothingToRevoke included: no connection can act on it
        item.outcome = f"Not revoked: {exc}"[:300]
        item.save(update_fields=["outcome"])
        return None
    item.revocation = revocation
    item.outcome = f"Revocation #{revocation.pk} started."
    item.save(update_fields=["revocation", "outcome"])
    return revocation.pk


def _note_revocation_outcomes(campaign: Campaign) -> None:
    for item in campaign.items.filter(revocation__isnull=False).select_related("revocation"):
        revocation = item.revocation
        said = f"Revoked by revocation #{revocation.pk}: {revocation.get_outcome_display().lower()}"
        said += f", proof {revocation.get_proof_display().lower()}."
        if item.decision == Decision.REDUCE:
            said += f" To grant again with only: {' '.join(item.keep_scopes)}."
        item.outcome = said[:300]
        item.save(update_fields=["outcome"])
