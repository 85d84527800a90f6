"""Celery tasks for revocations: thin, they take ids."""

from celery import shared_task

from governance.containment.models import Revocation
from governance.platform import jobs


@shared_task(name="governance.run_revocation", acks_late=True)
def run_revocation(revocation_id: int) -> str:
    """Run one revocation; a duplicate delivery finds it already claimed and does nothing."""
    return jobs.execute(Revocation, revocation_id)
