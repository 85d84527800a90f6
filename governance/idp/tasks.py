"""Celery tasks for IdP syncs: thin, they take ids."""

from celery import shared_task

from governance.idp import sync
from governance.idp.models import IdpSync
from governance.platform import jobs


@shared_task(name="governance.run_idp_sync", acks_late=True)
def run_idp_sync(sync_id: int) -> str:
    """Run one sync; a duplicate delivery finds it already claimed and does nothing."""
    return jobs.execute(IdpSync, sync_id)


@shared_task(name="governance.start_due_idp_syncs")
def start_due_idp_syncs() -> int:
    """Beat's tick: start a sync of every connection whose interval has passed."""
    return len(sync.start_due_syncs())
