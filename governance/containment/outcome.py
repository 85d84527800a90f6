"""How a revocation ends: its outcome (done / partial with the reasons / failed), its proof, its
residual window and the audit chain's "finished" event — after the runner's last step, or when
the job engine gives up on it (`give_up`, the kind's `on_give_up` hook: the sweeper found its
worker silent once too often, or the runner itself raised).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from governance.containment import proof
from governance.containment.models import Revocation, RevocationStep
from governance.containment.services import append_event
from governance.containment.steps import CALL, LOCAL, TASK, VERIFY

State = RevocationStep.State
UNFINISHED = (State.PENDING, State.RUNNING)


def finish(revocation: Revocation, progress=None) -> None:
    """Outcome, proof, residual window; the "finished" event (by the run holding the job)."""
    _conclude(revocation, progress, Revocation.objects.filter(run_token=revocation.run_token))


def give_up(revocation: Revocation) -> None:
    """The job engine gave up (status failed): what never ran is failed (or, a check, skipped)
    with why, and the revocation still ends with an outcome and its "finished" event. Once:
    a revocation that has an outcome already is left as it is."""
    if revocation.outcome:
        return
    why = _why_given_up(revocation)
    ended = {"finished_at": timezone.now(), "next_retry_at": None}
    steps = revocation.steps.filter(state__in=UNFINISHED)  # read again by each update
    # A call found running may or may not have reached the IdP: the record says so.
    steps.filter(state=State.RUNNING).exclude(kind=VERIFY).update(
        state=State.FAILED, error=f"unknown: its worker stopped during it; {why}"[:2000], **ended
    )
    steps.filter(kind=VERIFY).update(
        state=State.SKIPPED, error=f"not checked: {why}"[:2000], **ended
    )
    steps.update(state=State.FAILED, error=f"not run: {why}"[:2000], **ended)
    _conclude(
        revocation, None, Revocation.objects.filter(status=Revocation.Status.FAILED, outcome="")
    )


def _why_given_up(revocation: Revocation) -> str:
    last = (revocation.error_log or [{}])[-1].get("message", "")
    said = f" (last: {last})" if last else ""
    return f"the revocation was given up after {revocation.attempts} run(s){said}"


def _conclude(revocation: Revocation, progress, held) -> None:
    steps = list(revocation.steps.order_by("position"))
    outcome, reasons = _outcome(steps)
    verifies = [s for s in steps if s.kind == VERIFY]
    verified = bool(verifies) and all(s.state == State.DONE and s.verified for s in verifies)
    residual, until = proof.residual_window(revocation)
    revocation.outcome = outcome
    revocation.proof = Revocation.Proof.VERIFIED if verified else Revocation.Proof.NOT_VERIFIED
    revocation.residual, revocation.residual_until = residual, until
    if progress is not None:
        progress.summary |= {"outcome": outcome, "reasons": reasons[:50]}
    with transaction.atomic():
        updated = held.filter(pk=revocation.pk).update(
            outcome=outcome, proof=revocation.proof, residual=residual, residual_until=until
        )
        if progress is None and updated:  # nobody's progress will write the summary
            summary = {**(revocation.summary or {}), "outcome": outcome, "reasons": reasons[:50]}
            Revocation.objects.filter(pk=revocation.pk).update(summary=summary)
            revocation.summary = summary
        if updated:
            append_event(revocation, "finished")


def _outcome(steps) -> tuple[str, list[str]]:
    acting = [s for s in steps if s.kind in (CALL, TASK, LOCAL)]
    reasons = [
        f"{s.description}: {s.get_state_display().lower()}, {s.error}"
        for s in acting
        if s.state in (State.FAILED, State.SKIPPED)
    ]
    calls_done = [s for s in steps if s.kind == CALL and s.state == State.DONE]
    if not reasons:
        return Revocation.Outcome.DONE, []
    if not calls_done:
        return Revocation.Outcome.FAILED, reasons
    return Revocation.Outcome.PARTIAL, reasons
