"""Registering event sources and managing their tokens (each change is an admin action)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.models import EventSource
from audit.otlp_attributes import validate_mapping
from audit.source_auth import forget_cached_sources, hash_token, new_token
from governance.access.records import record_admin_action


def _snapshot(source: EventSource) -> dict:
    return {
        "name": source.name,
        "kind": source.kind,
        "enabled": source.enabled,
        "retention_days": source.retention_days,
        "rate_limit_per_minute": source.rate_limit_per_minute,
        "token_prefix": source.token_prefix,
        "otlp_attribute_map": source.otlp_attribute_map,
    }


@transaction.atomic
def create_source(
    *,
    name: str,
    kind: str = EventSource.Kind.GATEWAY,
    actor=None,
    retention_days: int = 90,
    rate_limit_per_minute: int = 0,
    request=None,
) -> tuple[EventSource, str]:
    """A new source and its bearer token (returned once; only its hash is stored)."""
    token = new_token()
    source = EventSource.objects.create(
        name=name,
        kind=kind,
        token_hash=hash_token(token),
        token_prefix=token[:12],
        retention_days=retention_days,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    record_admin_action(
        actor=actor,
        action="eventsource.created",
        obj=source,
        after=_snapshot(source),
        request=request,
    )
    return source, token


@transaction.atomic
def rotate_source_token(*, source: EventSource, actor=None, request=None) -> str:
    """Replace the token: the old one stops working at once. Returns the new token."""
    before = _snapshot(source)
    token = new_token()
    source.token_hash, source.token_prefix = hash_token(token), token[:12]
    source.token_rotated_at = timezone.now()
    source.save(update_fields=["token_hash", "token_prefix", "token_rotated_at"])
    transaction.on_commit(forget_cached_sources)
    forget_cached_sources()
    record_admin_action(
        actor=actor,
        action="eventsource.token_rotated",
        obj=source,
        before=before,
        after=_snapshot(source),
        request=request,
    )
    return token


@transaction.atomic
def set_source_enabled(*, source: EventSource, enabled: bool, actor=None, request=None) -> None:
    """Enable or disable a source; a disabled source's token gets 401."""
    before = _snapshot(source)
    source.enabled = enabled
    source.disabled_at = None if enabled else timezone.now()
    source.save(update_fields=["enabled", "disabled_at"])
    transaction.on_commit(forget_cached_sources)
    forget_cached_sources()
    record_admin_action(
        actor=actor,
        action="eventsource.enabled" if enabled else "eventsource.disabled",
        obj=source,
        before=before,
        after=_snapshot(source),
        request=request,
    )


@transaction.atomic
def update_source_settings(
    *,
    source: EventSource,
    retention_days: int,
    rate_limit_per_minute: int,
    actor=None,
    request=None,
) -> None:
    """Change a source's retention and rate limit."""
    before = _snapshot(source)
    source.retention_days, source.rate_limit_per_minute = retention_days, rate_limit_per_minute
    source.save(update_fields=["retention_days", "rate_limit_per_minute"])
    transaction.on_commit(forget_cached_sources)
    forget_cached_sources()
    record_admin_action(
        actor=actor,
        action="eventsource.updated",
        obj=source,
        before=before,
        after=_snapshot(source),
        request=request,
    )


@transaction.atomic
def set_attribute_map(*, source: EventSource, mapping: dict, actor=None, request=None) -> None:
    """Replace the source's own OTLP attribute names per canonical field (MappingError when one
    is not valid; nothing is saved then)."""
    cleaned = validate_mapping(mapping)
    before = _snapshot(source)
    source.otlp_attribute_map = cleaned
    source.save(update_fields=["otlp_attribute_map"])
    # The token cache holds the source row, mapping included: drop it so the next export reads
    # the new mapping (other web processes within audit.source_auth.CACHE_SECONDS).
    transaction.on_commit(forget_cached_sources)
    forget_cached_sources()
    record_admin_action(
        actor=actor,
        action="eventsource.attribute_map_updated",
        obj=source,
        before=before,
        after=_snapshot(source),
        request=request,
    )
