"""A closed campaign's frozen record: every item, reviewer, decision, justification and time and
its revocation's outcome, as plain JSON, and its SHA-256 over the canonical form (keys sorted,
no spaces, UTF-8), which anyone can recompute from the JSON the console hands out.

Written once, when the campaign closes (services.finish_closing); nothing writes it after.
"""

from __future__ import annotations

import hashlib
import json

from governance.reviews.models import Campaign
from governance.reviews.scope import describe

FORMAT = "mcp-governance.access-review/1"


def build(campaign: Campaign) -> dict:
    """The record of a campaign (its items read now, with their revocations)."""
    items = campaign.items.select_related("reviewer", "decided_by", "revocation").order_by("id")
    return {
        "format": FORMAT,
        "campaign": {
            "id": campaign.pk,
            "name": campaign.name,
            "description": campaign.description,
            "scope": campaign.scope,
            "scope_text": describe(campaign.scope),
            "reviewer_rule": campaign.reviewer_rule,
            "reviewers": sorted(u.get_username() for u in campaign.reviewers.all()),
            "fallback_reviewer": _name(campaign.fallback_reviewer),
            "due_at": _iso(campaign.due_at),
            "remind_days_before": list(campaign.remind_days_before),
            "created_by": _name(campaign.created_by),
            "created_at": _iso(campaign.created_at),
            "closed_by": _name(campaign.closed_by),
            "closed_at": _iso(campaign.closed_at),
        },
        "items": [_item(item) for item in items],
    }


def canonical(record: dict) -> bytes:
    """The bytes the digest is over: sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(record: dict) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def verify(campaign: Campaign) -> bool:
    """The stored record still hashes to the stored digest."""
    return bool(campaign.record) and digest(campaign.record) == campaign.record_sha256


def _item(item) -> dict:
    revocation = item.revocation
    return {
        "id": item.pk,
        "grant_id": item.grant_id,
        "context": item.context,
        "reviewer": _name(item.reviewer),
        "recommendation": item.recommendation,
        "recommendation_reason": item.recommendation_reason,
        "decision": item.decision or "pending",
        "keep_scopes": list(item.keep_scopes),
        "justification": item.justification,
        "decided_by": _name(item.decided_by),
        "decided_at": _iso(item.decided_at),
        "revocation": None
        if revocation is None
        else {
            "id": revocation.pk,
            "status": revocation.status,
            "outcome": revocation.outcome,
            "proof": revocation.proof,
            "finished_at": _iso(revocation.finished_at),
            "residual_until": _iso(revocation.residual_until),
        },
        "outcome": item.outcome,
    }


def _name(user) -> str | None:
    return user.get_username() if user is not None else None


def _iso(value) -> str | None:
    return value.isoformat() if value else None
