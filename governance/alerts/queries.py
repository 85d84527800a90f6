"""Reads for the destination pages and the API: each destination with its delivery counts and
forwarding lag, the dead letters."""

from __future__ import annotations

from django.db.models import Count, Q

from governance.access.lists.filters import Filter, ListSpec, filtered
from governance.alerts import forwarding
from governance.alerts.models import Delivery, Destination

DEAD_LETTERS_SHOWN = 500

# The destination list's search, filters and sorts: the page and the API read the same spec.
DESTINATION_SPEC = ListSpec(
    search=("name", "url", "host", "email_to"),
    filters=(
        Filter("kind", "kind", choices=tuple(Destination.Kind.choices), label="Kind"),
        Filter("enabled", "enabled", kind="bool", label="Enabled"),
        Filter("forward_events", "forward_events", kind="bool", label="Streams audit events"),
    ),
    sorts={"name": "name", "kind": "kind", "created": "created_at", "tested": "last_test_at"},
    default_sort="name",
)


def destination_rows(params=None):
    """Destinations with `pending` and `dead` delivery counts, DESTINATION_SPEC applied to
    `params` (InvalidFilter names a bad one)."""
    rows = Destination.objects.annotate(
        pending=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING)),
        dead=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.DEAD)),
    )
    return filtered(DESTINATION_SPEC, rows, params or {})


def forwarding_lag(destination: Destination) -> dict | None:
    """How far the destination's audit-event stream is behind (None when it streams none):
    events_behind, batches_behind, seconds_behind, last_forwarded_at, last_error."""
    if not destination.forward_events:
        return None
    return forwarding.lag(destination)


def recent_deliveries(destination: Destination, limit: int = 20):
    return destination.deliveries.all()[:limit]


def dead_letters(*, destination_id: int | None = None):
    """Dead deliveries, newest first, with their destination."""
    rows = Delivery.objects.filter(status=Delivery.Status.DEAD).select_related("destination")
    if destination_id:
        rows = rows.filter(destination_id=destination_id)
    return rows.order_by("-dead_at", "-id")[:DEAD_LETTERS_SHOWN]
