"""Aggregates over a list of grants (a queryset from inventory.queries.grants, so the same
filters as the grant list and its API): what the access inventory report's figures say."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

UNUSED_DAYS = 90


def grant_totals(grants: QuerySet) -> dict[str, int]:
    """{grants, active, revoked, expired, identities, clients, servers, never_used,
    active_unused_90_days} over the grants, in one query. "Unused for 90 days" is the list's
    `unused_days=90` (never used, or last used before then) among active grants."""
    unused_since = timezone.now() - timedelta(days=UNUSED_DAYS)
    unused = Q(last_used_at__isnull=True) | Q(last_used_at__lt=unused_since)
    return grants.order_by().aggregate(
        grants=Count("pk"),
        active=Count("pk", filter=Q(status="active")),
        revoked=Count("pk", filter=Q(status="revoked")),
        expired=Count("pk", filter=Q(status="expired")),
        identities=Count("subject", distinct=True),
        clients=Count("client", distinct=True),
        servers=Count("server", distinct=True),
        never_used=Count("pk", filter=Q(last_used_at__isnull=True)),
        active_unused_90_days=Count("pk", filter=Q(status="active") & unused),
    )
