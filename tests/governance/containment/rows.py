"""Revocations built as rows, as the runner leaves them (no IdP called), so the progress page
and the API can be checked in every state without running one."""

from __future__ import annotations

from datetime import timedelta

from governance.containment.models import Revocation, RevocationStep
from tests.ui_factories import T0


def revocation_row(*, action="grant", status="done", outcome="done", **kw) -> Revocation:
    """A revocation as the runner leaves it."""
    kw.setdefault("target_key", f"{action}:{Revocation.objects.count() + 1}")
    kw.setdefault("reason", "laptop stolen, SEC-123")
    kw.setdefault("queued_at", T0)
    if status in ("done", "failed"):
        kw.setdefault("started_at", T0)
        kw.setdefault("finished_at", T0 + timedelta(seconds=3))
    return Revocation.objects.create(action=action, status=status, outcome=outcome, **kw)


def step_row(revocation, position, **kw) -> RevocationStep:
    kw.setdefault("kind", "call")
    kw.setdefault("operation", "revoke")
    kw.setdefault("description", f"step {position}")
    return RevocationStep.objects.create(revocation=revocation, position=position, **kw)
