"""IdP syncs: start one (a job row; Celery carries its id) and run it.

`start_sync` is what the console, the API, `manage.py sync_idp` and beat call. The runner
(`run_sync`) reads the connection's identities, clients and grants through its connector and
writes them through inventory's services.
"""

from __future__ import annotations

from django.db import transaction

from governance.access.records import record_admin_action
from governance.idp.models import IdpConnection, IdpSync
from governance.platform import jobs


class ConnectionDisabled(ValueError):
    """A sync was asked of a disabled connection."""


def start_sync(
    *, connection: IdpConnection, full: bool = False, actor=None, request=None, requested_by=""
) -> IdpSync:
    """Queue a sync of `connection`, or return its open one; the task is sent after commit."""
    if not connection.enabled:
        raise ConnectionDisabled(f"{connection.name} is disabled: enable it to sync")
    with transaction.atomic():
        sync, created = jobs.open_job(
            IdpSync,
            connection=connection,
            full=full,
            options={"full": full},
            requested_by=requested_by or (actor.get_username() if actor else "system"),
        )
        if created:
            if actor is not None:
                record_admin_action(
                    actor=actor,
                    action="idp_sync.started",
                    obj=sync,
                    after={"connection": connection.name, "full": full},
                    request=request,
                )
            transaction.on_commit(lambda: jobs.enqueue(sync))
    return sync


def run_sync(sync: IdpSync, progress: jobs.Progress) -> None:
    """The runner: read the IdP through its connector and write the ledger (issue 12 §2)."""
    raise NotImplementedError("the sync runner is being written")  # replaced by the sync work
