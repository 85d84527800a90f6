"""Starting, and undoing, a revocation: the writes (HackSoft style: keyword-only, actor first).

Each start records an admin action and appends an event to the audit chain (type
"governance.revocation.started"), in the transaction that creates the revocation and its steps;
the job is sent to Celery once that transaction commits.
"""

from __future__ import annotations

from governance.containment.models import Revocation


class NothingToRevoke(ValueError):
    """The plan touches nothing (no active grant, no connection that can act): said on the form."""


def start_revocation(
    *,
    actor,
    action: str,
    reason: str,
    grant=None,
    identity=None,
    client=None,
    filter_params: dict | None = None,
    request=None,
) -> Revocation:
    """Plan (as the confirm page showed), create the revocation and its steps, record, enqueue.
    `reason` is required (ValueError naming the field). Confirming the same target twice while
    the first is open returns the open one."""
    raise NotImplementedError


def undo_revocation(*, actor, revocation: Revocation, reason: str, request=None) -> Revocation:
    """Reactivate what `revocation` deactivated where the IdP allows it (apps, Cross App Access
    connections, the inventory block); a new revocation with action UNDO, recorded alike."""
    raise NotImplementedError
