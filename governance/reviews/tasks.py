"""Celery tasks for access reviews: thin, they take ids and call one service."""

from celery import shared_task

from governance.reviews import services

# While a closing campaign's revocations run, its finishing task looks again this often.
CLOSING_POLL_SECONDS = 2


@shared_task(name="governance.reviews.send_reminders")
def send_reminders() -> dict:
    """Beat: reminder emails at each open campaign's marks (each mark once)."""
    return {str(k): v for k, v in services.send_reminders().items()}


@shared_task(name="governance.reviews.finish_closing", bind=True, max_retries=None)
def finish_closing(self, campaign_id: int) -> bool:
    """Close the campaign once its revocations ended; looks again until then (safe twice)."""
    if not services.finish_closing(campaign_id):
        raise self.retry(countdown=CLOSING_POLL_SECONDS)
    return True


@shared_task(name="governance.reviews.finish_closing_all")
def finish_closing_all() -> list[int]:
    """Beat: the sweeper for a closing campaign whose polling message was lost."""
    return services.finish_closing_all()
