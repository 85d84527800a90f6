"""Celery tasks: thin wrappers, safe to run twice (see STYLE.md)."""

from datetime import datetime

from celery import shared_task

from audit.services import partitions
from audit.services.chain import verify_chain
from audit.services.seal import seal_pending


@shared_task
def ensure_partitions():
    """Create this month's and the coming months' event partitions (beat: hourly)."""
    return partitions.ensure_ahead()


@shared_task
def seal_chain():
    """Seal batches whose in-request seal was lost (a crash between commit and seal)."""
    return seal_pending()


@shared_task
def apply_retention():
    """Drop event partitions past every source's retention (beat: every 6 hours)."""
    return partitions.apply_retention()


@shared_task
def verify_audit_chain(since: str | None = None):
    """Verify the integrity chain (the UI's "verify now" button enqueues this)."""
    run = verify_chain(
        since=datetime.fromisoformat(since) if since else None, triggered_by="celery"
    )
    return run.pk
