"""A revocation's console steps (`local` steps): the inventory's side of a revocation.

Grants are marked revoked only where their revoking call succeeded (the inventory never says
revoked while the IdP may still honour a grant); an identity's or a client's cut-off time is set
(what "used after revocation" watches); a client is blocked, and an undo restores the review
status it had before.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from governance.containment.models import Revocation, RevocationStep
from governance.containment.steps import CALL
from inventory.models import Client, Grant, Identity, ReviewStatus

State = RevocationStep.State


def run_console_step(step: RevocationStep, revocation: Revocation) -> dict:
    """Carry out a `local` step; ValueError for an operation this module does not know."""
    now = timezone.now()
    target = step.target
    with transaction.atomic():
        if step.operation == "mark_revoked":
            return _mark_revoked(revocation, target.get("grant_ids") or [], now)
        if step.operation == "cut_off_identity":
            Identity.objects.filter(pk=target["identity_id"]).update(cut_off_at=now)
            return {"identity": target["identity_id"], "cut_off_at": now.isoformat()}
        if step.operation == "block_client":
            client = Client.objects.select_for_update().get(pk=target["client_pk"])
            previous = client.review_status
            Client.objects.filter(pk=client.pk).update(
                review_status=ReviewStatus.BLOCKED, cut_off_at=client.cut_off_at or now
            )
            return {"previous_review_status": previous, "review_status": ReviewStatus.BLOCKED}
        if step.operation == "unblock_client":
            return _unblock(target)
    raise ValueError(f"unknown console step {step.operation!r}")


def _mark_revoked(revocation: Revocation, grant_ids: list[int], now) -> dict:
    """Only grants whose revoking call succeeded: the inventory never says revoked when the
    IdP may still honour the grant."""
    revoked_by_calls: set[int] = set()
    for target in revocation.steps.filter(
        kind=CALL, state=State.DONE, operation__in=["revoke", "revoke_user_client"]
    ).values_list("target", flat=True):
        revoked_by_calls.update(target.get("grant_ids") or [])
    chosen = [pk for pk in grant_ids if pk in revoked_by_calls]
    marked = Grant.objects.filter(pk__in=chosen, status=Grant.Status.ACTIVE).update(
        status=Grant.Status.REVOKED,
        revoked_at=now,
        revoked_by=(revocation.requested_by or "console")[:200],
        revoke_reason=f"revocation #{revocation.pk}: {revocation.reason}",
    )
    left = len(grant_ids) - len(chosen)
    return {"marked_revoked": marked, "left_active": left}


def _unblock(target: dict) -> dict:
    undone = RevocationStep.objects.filter(
        revocation_id=target.get("undoes"), operation="block_client", state=State.DONE
    ).first()
    previous = (undone.response_summary or {}).get("previous_review_status") if undone else None
    restored = (
        previous if previous and previous != ReviewStatus.BLOCKED else ReviewStatus.UNREVIEWED
    )
    Client.objects.filter(pk=target["client_pk"]).update(review_status=restored, cut_off_at=None)
    return {"review_status": restored, "cut_off_at": None}
