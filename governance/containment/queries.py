"""Reads for the revocation pages and API: the list (filters), one revocation with its steps,
its progress, and the revocations touching a grant, an identity or a client."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Count, Q, QuerySet

from governance.access.lists.filters import Filter, ListSpec, filtered
from governance.containment.models import Revocation, RevocationStep
from inventory.models import Grant

REVOCATION_SPEC = ListSpec(
    search=("reason", "target_key", "requested_by"),
    filters=(
        Filter("action", "action", choices=tuple(Revocation.Action.choices)),
        Filter("outcome", "outcome", choices=tuple(Revocation.Outcome.choices)),
        Filter("status", "status", choices=tuple(Revocation.Status.choices)),
        Filter("proof", "proof", choices=tuple(Revocation.Proof.choices)),
        Filter("actor", "requested_by", kind="text", label="who started it (user name)"),
    ),
    sorts={"queued_at": "queued_at", "finished_at": "finished_at", "action": "action"},
    default_sort="-queued_at",
)


def revocations(params: Mapping) -> QuerySet:
    """Revocations for the list page or API, with their step counts."""
    base = Revocation.objects.select_related("grant", "identity", "client", "actor").annotate(
        steps_total=Count("steps"),
        steps_finished=Count("steps", filter=~Q(steps__state__in=["pending", "running"])),
        steps_failed=Count("steps", filter=Q(steps__state="failed")),
    )
    return filtered(REVOCATION_SPEC, base, params)


def revocation_detail(pk: int) -> Revocation:
    """One revocation with its targets (Revocation.DoesNotExist when there is none)."""
    return Revocation.objects.select_related("grant", "identity", "client", "actor", "undoes").get(
        pk=pk
    )


def revocation_steps(revocation: Revocation) -> QuerySet:
    """Its steps in order, with their connection's name."""
    return RevocationStep.objects.filter(revocation=revocation).select_related("connection")


def progress(revocation: Revocation) -> dict:
    """{"total", "finished", "done", "failed", "skipped", "running", "pending", "percent",
    "verified", "not_verified"}: what the live progress bar shows."""
    counts = dict(
        RevocationStep.objects.filter(revocation=revocation)
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    total = sum(counts.values())
    finished = sum(counts.get(s, 0) for s in ("done", "failed", "skipped"))
    verifies = RevocationStep.objects.filter(revocation=revocation, kind="verify", state="done")
    return {
        "total": total,
        "finished": finished,
        **{state: counts.get(state, 0) for state in RevocationStep.State.values},
        "percent": round(100 * finished / total) if total else 100,
        "verified": verifies.filter(verified=True).count(),
        "not_verified": verifies.filter(verified=False).count(),
    }


def revocations_touching(*, grant=None, identity=None, client=None) -> QuerySet:
    """Revocations that acted on the grant, identity or client (for its page), newest first:
    started on it, or (a bulk, a kill switch, an identity cut-off) covering its grants."""
    where = Q(pk__in=[])
    if grant is not None:
        where |= Q(grant=grant) | Q(grant_ids__contains=[grant.pk])
    if identity is not None:
        where |= Q(identity=identity)
    if client is not None:
        where |= Q(client=client)
    return Revocation.objects.filter(where).select_related("actor").order_by("-queued_at", "-id")


def undoable(revocation: Revocation) -> bool:
    """Whether the page offers Undo: finished, deactivated or blocked something, not undone."""
    if revocation.is_open or revocation.action == Revocation.Action.UNDO:
        return False
    if Revocation.objects.filter(undoes=revocation).exclude(outcome="failed").exists():
        return False
    return revocation.steps.filter(
        state="done", operation__in=["deactivate", "revoke_client_grants", "block_client"]
    ).exists()


def still_active(*, client=None, identity=None) -> dict:
    """What stays usable at the IdPs while only the inventory says "blocked" / "disabled": the
    active grants, how many identities (or clients) they span, and their issuers (the warning
    beside "Block", and the kill switch's offer)."""
    grants = Grant.objects.active()
    if client is not None:
        grants = grants.filter(client=client)
    if identity is not None:
        grants = grants.filter(subject=identity)
    counts = grants.aggregate(
        grants=Count("pk"),
        identities=Count("subject", distinct=True),
        clients=Count("client", distinct=True),
        refresh_tokens=Count("pk", filter=Q(has_refresh_token=True)),
    )
    counts["issuers"] = sorted(set(grants.values_list("issuer", flat=True)))
    return counts
