"""Registering event sources and managing their tokens (each change is an admin action)."""

from __future__ import annotations

import base64
import ipaddress
import secrets

import httpx
from django.db import transaction
from django.utils import timezone

from audit.models import EventSource
from audit.otlp_attributes import validate_mapping
from audit.source_auth import forget_cached_sources, hash_token, new_token
from governance.access.records import record_admin_action
from governance.access.secrets import encrypt
from inventory.fetch_policy import allows_plain_http, special_use_reason

# Standard Webhooks: a symmetric secret of 24-64 random bytes, shown as `whsec_` + base64.
HOOK_SECRET_BYTES = 32
HOOK_URL_MAX = EventSource._meta.get_field("cancel_hook_url").max_length


class CancelHookError(ValueError):
    """A cancel hook URL the console will not call; `field` names the input."""

    def __init__(self, message: str, field: str = "url"):
        super().__init__(message)
        self.field, self.message = field, message


def _snapshot(source: EventSource) -> dict:
    return {
        "name": source.name,
        "kind": source.kind,
        "enabled": source.enabled,
        "retention_days": source.retention_days,
        "rate_limit_per_minute": source.rate_limit_per_minute,
        "token_prefix": source.token_prefix,
        "otlp_attribute_map": source.otlp_attribute_map,
        # The hook's URL, and whether it has a secret: never the secret, not even encrypted.
        "cancel_hook_url": source.cancel_hook_url,
        "cancel_hook_signed": bool(source.cancel_hook_secret_encrypted),
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


def check_cancel_hook_url(url: str) -> str:
    """The URL, stripped, when the console may POST to it: https with a host and no
    credentials; plain http, or a special-use address such as loopback, only for a host in
    settings.FETCH_ALLOWLIST (labs and tests). The call itself goes through the safe fetcher,
    which resolves the name and checks every address again."""
    url = (url or "").strip()
    if not url:
        raise CancelHookError("is required: the https URL of the gateway's cancel hook")
    if len(url) > HOOK_URL_MAX:
        raise CancelHookError(f"must be at most {HOOK_URL_MAX} characters")
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    except (httpx.InvalidURL, TypeError, ValueError):
        raise CancelHookError("is not a valid URL") from None
    if parsed.scheme not in ("https", "http") or not host:
        raise CancelHookError("must be an https URL with a host")
    if parsed.userinfo:
        raise CancelHookError("must not carry credentials (user:password@)")
    listed = allows_plain_http(url)
    if parsed.scheme == "http" and not listed:
        raise CancelHookError("must be https (plain http only to an allow-listed host)")
    try:
        why = special_use_reason(ipaddress.ip_address(host))
    except ValueError:
        why = None  # a name: resolved and checked when the hook is called
    if why and not listed:
        raise CancelHookError(f"points at a {why} address, which the console does not call")
    return url


def new_hook_secret() -> str:
    """A fresh Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(HOOK_SECRET_BYTES)).decode("ascii")


@transaction.atomic
def set_cancel_hook(*, source: EventSource, url: str, actor=None, request=None) -> str:
    """Set (or move) the source's cancel hook with a new signing secret, stored encrypted.
    Returns the secret: the only time it is shown. CancelHookError names a bad URL."""
    url = check_cancel_hook_url(url)
    before = _snapshot(source)
    secret = new_hook_secret()
    source.cancel_hook_url, source.cancel_hook_secret_encrypted = url, encrypt(secret)
    source.save(update_fields=["cancel_hook_url", "cancel_hook_secret_encrypted"])
    record_admin_action(
        actor=actor,
        action="eventsource.cancel_hook_set",
        obj=source,
        before=before,
        after=_snapshot(source),
        request=request,
    )
    return secret


@transaction.atomic
def clear_cancel_hook(*, source: EventSource, actor=None, request=None) -> None:
    """Remove the cancel hook: orphaned tasks of this source then need their owner's action."""
    before = _snapshot(source)
    source.cancel_hook_url, source.cancel_hook_secret_encrypted = "", ""
    source.save(update_fields=["cancel_hook_url", "cancel_hook_secret_encrypted"])
    record_admin_action(
        actor=actor,
        action="eventsource.cancel_hook_removed",
        obj=source,
        before=before,
        after=_snapshot(source),
        request=request,
    )
