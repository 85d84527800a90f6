"""Celery tasks of the delivery engine and the forwarder: thin, safe to run twice (STYLE.md)."""

from celery import shared_task
from django.conf import settings

from governance.alerts import delivery, forwarding


@shared_task(ignore_result=True)
def dispatch():
    """Route the findings outbox, flush due groups, send due deliveries (beat: every second).
    A group due before the next beat gets a run at its due time, so group_wait is not rounded
    up to the beat."""
    done = delivery.dispatch()
    if done.get("skipped"):  # the run holding the lock schedules what it finds
        return done
    wait = delivery.seconds_until_next_flush()
    if wait is not None and 0 < wait < settings.ALERTS_DISPATCH_INTERVAL_SECONDS:
        dispatch.apply_async(countdown=wait, expires=wait + 10)
    return done


@shared_task(ignore_result=True)
def forward_events(destination_id: int):
    """Stream one destination's unsent audit events from its cursor."""
    return forwarding.forward(destination_id)


@shared_task(ignore_result=True)
def forward_tick():
    """Fan out one forward_events per forwarding destination (beat)."""
    expires = settings.ALERTS_FORWARD_INTERVAL_SECONDS * 5
    for destination_id in forwarding.destinations_to_forward():
        forward_events.apply_async((destination_id,), expires=expires)
