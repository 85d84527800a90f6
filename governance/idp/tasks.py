"""Celery tasks for IdP syncs: thin, they take ids."""

from celery import shared_task

from governance.idp.models import IdpSync
from governance.platform import jobs


@shared_task(name="governance.run_idp_sync", acks_late=True)
def run_idp_sync(sync_id: int) -> str:
    """Run one sync; a duplicate delivery finds it already claimed and does nothing."""
    return jobs.execute(IdpSync, sync_id)
