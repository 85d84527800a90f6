"""Reads for the destination pages and the API: each destination with its delivery counts and
forwarding lag, the dead letters."""

from __future__ import annotations

from django.db.models import Count, Q

from governance.alerts import forwarding
from governance.alerts.models import Delivery, Destination

DEAD_LETTERS_SHOWN = 500


def destination_rows(*, kind: str = ""):
    """Destinations (of `kind` when given) with `pending` and `dead` delivery counts."""
    rows = Destination.objects.annotate(
        pending=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING)),
        dead=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.DEAD)),
    ).order_by("name")
    return rows.filter(kind=kind) if kind else rows


def forwarding_lag(destination: Destination) -> dict | None:
    """How far the destination's audit-event stream is behind (None when it streams none):
    events_behind, batches_behind, seconds_behind, last_forwarded_at, last_error."""
    if not destination.forward_events:
        return None
    lag = getattr(forwarding, "lag", None)
    if lag is None:  # the forwarder is not there (yet): say so rather than guess
        return {"unavailable": True}
    return lag(destination)


def recent_deliveries(destination: Destination, limit: int = 20):
    return destination.deliveries.all()[:limit]


def dead_letters(*, destination_id: int | None = None):
    """Dead deliveries, newest first, with their destination."""
    rows = Delivery.objects.filter(status=Delivery.Status.DEAD).select_related("destination")
    if destination_id:
        rows = rows.filter(destination_id=destination_id)
    return rows.order_by("-dead_at", "-id")[:DEAD_LETTERS_SHOWN]
