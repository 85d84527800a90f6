"""Starting, and undoing, a revocation: the writes (HackSoft style: keyword-only, actor first).

Each start records an admin action and appends an event to the audit chain (type
"governance.revocation.started"), in the transaction that creates the revocation and its steps;
the job is sent to Celery once that transaction commits.
"""

from __future__ import annotations

import hashlib
import secrets as pysecrets
import uuid

from django.db import transaction
from django.utils import timezone

from audit.models import EventSource
from audit.services.ingest import ingest_events
from governance.access import secrets
from governance.access.records import record_admin_action
from governance.containment import plan as planning
from governance.containment.models import Revocation, RevocationStep
from governance.platform import jobs
from inventory import queries as inventory_queries

# The built-in event source the console's own events are appended under. Its token hash is of
# random bytes nobody ever saw: no gateway can send as it.
CONSOLE_SOURCE = "console"
MAX_TOKENS = 20


class NothingToRevoke(ValueError):
    """The plan touches nothing (no active grant, no connection that can act): said on the form."""


def token_hint(token: str) -> str:
    """How a token is shown anywhere: its first 6 characters and an ellipsis."""
    return f"{token[:6]}…"


def build_plan(
    *,
    action: str,
    grant=None,
    identity=None,
    client=None,
    filter_params: dict | None = None,
    tokens: list[str] | None = None,
    revocation: Revocation | None = None,
) -> planning.Plan:
    """The plan (the dry run) for an action: ValueError naming the missing field."""
    sealed = [_sealed(t) for t in _clean_tokens(tokens)]
    if action == Revocation.Action.GRANT:
        _require(grant=grant)
        return planning.plan_grant(grant, tokens=sealed)
    if sealed:
        raise ValueError("tokens: token values are accepted for one grant only")
    if action == Revocation.Action.IDENTITY_CLIENT:
        _require(identity=identity, client=client)
        return planning.plan_identity_client(identity, client)
    if action == Revocation.Action.IDENTITY:
        _require(identity=identity)
        return planning.plan_identity(identity)
    if action == Revocation.Action.CLIENT:
        _require(client=client)
        return planning.plan_client(client)
    if action == Revocation.Action.BULK:
        params = {str(k): str(v) for k, v in (filter_params or {}).items()}
        # The grant list's own filter (InvalidFilter names a bad parameter: a 400, not a 500).
        return planning.plan_bulk(inventory_queries.grants(params), params)
    if action == Revocation.Action.UNDO:
        _require(revocation=revocation)
        return planning.plan_undo(revocation)
    raise ValueError(f"action: {action!r} is not one of {', '.join(Revocation.Action.values)}")


def start_revocation(
    *,
    actor,
    action: str,
    reason: str,
    grant=None,
    identity=None,
    client=None,
    filter_params: dict | None = None,
    tokens: list[str] | None = None,
    request=None,
    enqueue: bool = True,
) -> Revocation:
    """Plan (as the confirm page showed), create the revocation and its steps, record, enqueue.
    `reason` is required (ValueError naming the field). Confirming the same target twice while
    the first is open returns the open one. `tokens`: token values of the grant the Admin
    holds (revoked by value, introspected as proof; stored encrypted, shown by 6 characters).
    `enqueue=False`: the caller runs it (`manage.py revoke` runs it inline)."""
    reason = _clean_reason(reason)
    if action == Revocation.Action.UNDO:
        raise ValueError("action: an undo starts from undo_revocation")
    plan = build_plan(
        action=action,
        grant=grant,
        identity=identity,
        client=client,
        filter_params=filter_params,
        tokens=tokens,
    )
    if not plan.runnable_calls:
        raise NothingToRevoke(_nothing(plan))
    return _open(
        actor=actor,
        plan=plan,
        reason=reason,
        values={
            "grant": grant,
            "identity": identity,
            "client": client,
            "filter_params": {str(k): str(v) for k, v in (filter_params or {}).items()},
        },
        request=request,
        enqueue=enqueue,
    )


def undo_revocation(
    *, actor, revocation: Revocation, reason: str, request=None, enqueue: bool = True
) -> Revocation:
    """Reactivate what `revocation` deactivated where the IdP allows it (apps, Cross App Access
    connections, the inventory block); a new revocation with action UNDO, recorded alike."""
    reason = _clean_reason(reason)
    if revocation.is_open:
        raise ValueError("revocation: it is still running; undo it once it has finished")
    if revocation.action == Revocation.Action.UNDO:
        raise ValueError("revocation: an undo cannot be undone (start the kill switch again)")
    done = [Revocation.Outcome.DONE, Revocation.Outcome.PARTIAL]
    if Revocation.objects.filter(undoes=revocation, outcome__in=done).exists():
        raise ValueError(f"revocation: #{revocation.pk} was undone already")
    plan = planning.plan_undo(revocation)
    if not plan.steps:
        raise NothingToRevoke(
            f"Revocation #{revocation.pk} deactivated nothing that can be reactivated."
        )
    if not plan.runnable_calls and not any(s.kind == "local" for s in plan.steps):
        raise NothingToRevoke(_nothing(plan))
    return _open(
        actor=actor,
        plan=plan,
        reason=reason,
        values={"client": revocation.client, "undoes": revocation},
        request=request,
        enqueue=enqueue,
    )


def _open(*, actor, plan, reason, values, request, enqueue) -> Revocation:
    with transaction.atomic():
        revocation, created = jobs.open_job(
            Revocation,
            target_key=plan.target_key,
            action=plan.action,
            reason=reason,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            grant_ids=plan.grant_ids,
            plan=plan.as_dict(),
            **values,
        )
        if not created:
            return revocation  # confirming twice joins the open one
        _create_steps(revocation, plan)
        record = record_admin_action(
            actor=actor,
            action="revocation.start" if plan.action != "undo" else "revocation.undo",
            obj=revocation,
            after={"action": plan.action, "reason": reason, "plan": plan.as_dict()},
            request=request,
        )
        # Who, as the record names them (a user, or the OS user and the command).
        revocation.requested_by = record.actor_repr[:200]
        revocation.save(update_fields=["requested_by"])
        append_event(revocation, "started", email=getattr(actor, "email", ""))
        if enqueue:
            transaction.on_commit(lambda: jobs.enqueue(revocation))
    return revocation


def _create_steps(revocation: Revocation, plan: planning.Plan) -> None:
    now = timezone.now()
    RevocationStep.objects.bulk_create(
        [
            RevocationStep(
                revocation=revocation,
                position=position,
                kind=step.kind,
                operation=step.operation,
                connection_id=step.connection_id,
                target=step.target,
                description=step.description[:300],
                state=RevocationStep.State.SKIPPED if step.skip_reason else "pending",
                error=step.skip_reason,
                finished_at=now if step.skip_reason else None,
            )
            for position, step in enumerate(plan.steps, start=1)
        ]
    )


def append_event(revocation: Revocation, what: str, *, email: str = "") -> None:
    """Append "governance.revocation.<what>" to the audit chain under the console's source."""
    attributes = {
        "revocation_id": revocation.pk,
        "action": revocation.action,
        "target": revocation.target_key,
        "reason": revocation.reason,
        "plan": revocation.plan,
    }
    if what == "finished":
        attributes |= {"outcome": revocation.outcome, "proof": revocation.proof}
    event = {
        "id": f"revocation-{revocation.pk}-{what}-{uuid.uuid4().hex[:8]}",
        "time": timezone.now().isoformat(),
        "type": f"governance.revocation.{what}",
        # No `id` (subject): the admin is a console user, not an identity of an IdP, and an
        # actor with a subject would become an identity in the inventory.
        "actor": {"type": "admin", "name": revocation.requested_by or "system"},
        "attributes": attributes,
    }
    if email:
        event["actor"]["email"] = email
    result = ingest_events(source=console_source(), events=[event])
    if not result.accepted:
        raise RuntimeError(f"the audit chain refused the revocation event: {result.rejected}")


def console_source() -> EventSource:
    """The built-in "console" event source (made on first use; no usable token)."""
    source = EventSource.objects.filter(name=CONSOLE_SOURCE).first()
    if source is not None:
        return source
    unusable = hashlib.sha256(pysecrets.token_bytes(32)).hexdigest()
    source, _ = EventSource.objects.get_or_create(
        name=CONSOLE_SOURCE,
        defaults={"token_hash": unusable, "token_prefix": "(built-in)", "retention_days": 3650},
    )
    return source


def _clean_reason(reason) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("reason: a reason is required (it is recorded with the revocation)")
    if len(reason) > 2000:
        raise ValueError("reason: at most 2000 characters")
    return reason


def _clean_tokens(tokens) -> list[str]:
    cleaned = [str(t).strip() for t in (tokens or ()) if str(t).strip()]
    if len(cleaned) > MAX_TOKENS:
        raise ValueError(f"tokens: at most {MAX_TOKENS} token values")
    if any(len(t) < 10 or len(t) > 8000 for t in cleaned):
        raise ValueError("tokens: a token value is between 10 and 8000 characters")
    return list(dict.fromkeys(cleaned))


def _sealed(token: str) -> dict:
    return {"encrypted": secrets.encrypt(token), "hint": token_hint(token)}


def _require(**values) -> None:
    for name, value in values.items():
        if value is None:
            raise ValueError(f"{name}: required for this action")


def _nothing(plan: planning.Plan) -> str:
    why = "; ".join(plan.warnings) or "nothing matched"
    return f"Nothing can be revoked: {why}"
