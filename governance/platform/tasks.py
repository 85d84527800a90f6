"""Celery tasks of the shared layer: thin, call one function (see STYLE.md)."""

from celery import shared_task

from governance.platform import jobs


@shared_task(name="platform.sweep_jobs")
def sweep_jobs() -> dict:
    """Beat: recover jobs of every kind whose message was lost or whose worker went silent."""
    return jobs.sweep_jobs()
