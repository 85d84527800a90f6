"""Celery tasks for access reviews: thin, they take ids and call one service."""

from celery import shared_task

from governance.reviews import services

# While a closing campaign's revocations run, its finishing task looks again this often for the
# first CLOSING_QUICK_POLLS tries (revocations usually end within seconds), then every
# CLOSING_SLOW_POLL_SECONDS: one that waits on an IdP that is down must not poll every 2 s for
# hours (the beat sweeper also finishes any closing campaign).
CLOSING_POLL_SECONDS = 2
CLOSING_QUICK_POLLS = 30
CLOSING_SLOW_POLL_SECONDS = 30


@shared_task(name="governance.reviews.send_reminders")
def send_reminders() -> dict:
    """Beat: reminder emails at each open campaign's marks (each mark once)."""
    return {str(k): v for k, v in services.send_reminders().items()}


@shared_task(name="governance.reviews.finish_closing", bind=True, max_retries=None)
def finish_closing(self, campaign_id: int) -> bool:
    """Close the campaign once its revocations ended; looks again until then (safe twice)."""
    if not services.finish_closing(campaign_id):
        quick = self.request.retries < CLOSING_QUICK_POLLS
        raise self.retry(countdown=CLOSING_POLL_SECONDS if quick else CLOSING_SLOW_POLL_SECONDS)
    return True


@shared_task(name="governance.reviews.finish_closing_all")
def finish_closing_all() -> list[int]:
    """Beat: the sweeper for a closing campaign whose polling message was lost."""
    return services.finish_closing_all()
