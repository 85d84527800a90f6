"""Registry crawler (MCP registry API, mcp-spec.md §8) and the admin writes on registries.

Pages come from `inventory.upstream.registry` (the network side: versions, pagination
parameters, retries and pacing); this module walks the cursor, and after a first successful
crawl asks only for entries updated since that crawl's start (minus a small overlap for clock
skew; content hashes make the overlap cheap). A broken item is logged on the crawl and skipped;
the good records beside it are kept.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from governance.access.records import record_admin_action
from inventory.models import Crawl, Registry
from inventory.registry_entries import (
    OFFICIAL_PACKAGE_BASE_URLS,
    EntryError,
    check_entry,
    parse_entry,
)
from inventory.services.crawls import Progress, start_crawl
from inventory.services.registry_ingest import write_entries
from inventory.upstream.registry import fetch_page, new_pacer

MAX_PAGES = 10_000  # a registry that never stops paginating is broken, not huge
REGISTRY_FIELDS = ("name", "base_url", "kind", "enabled", "crawl_interval_minutes")
MIN_CRAWL_INTERVAL_MINUTES = 5
BASE_URL_TAKEN = "base_url is already used by another registry."


class RegistryError(Exception):
    """The registry answered with something we cannot crawl (not a server list, a cursor loop)."""


def normalize_base_url(url: str) -> str:
    """`https://r.example/v0.1/` → `https://r.example` (we add the API version ourselves)."""
    url = url.strip().rstrip("/")
    for suffix in ("/v0.1/servers", "/v0/servers", "/v0.1", "/v0"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


# --- input rules, one place for the form, the API and `crawl_registry` ------------------------
# Django ValidationErrors, so a form shows them on the field, DRF answers 400 naming the field
# and the command prints the same words.


def clean_base_url(url: str) -> str:
    """The base URL as it is stored (normalised), or a ValidationError saying why it cannot be."""
    base = normalize_base_url(url)
    try:
        parts = urlsplit(base)
        usable = parts.scheme in ("https", "http") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        usable = False
    if not usable:
        raise ValidationError("base_url must be an http(s) URL.", code="scheme")
    max_length = Registry._meta.get_field("base_url").max_length
    if len(base) > max_length:  # the command has no form field checking the length first
        raise ValidationError(
            f"base_url must be at most {max_length} characters.", code="max_length"
        )
    return base


def clean_unused_base_url(url: str, *, registry: Registry | None = None) -> str:
    """clean_base_url, and no other registry's: uniqueness is only meaningful on the normalised
    value (`https://r.example/v0.1` is `https://r.example`); checked on the raw value, the
    duplicate reaches the unique constraint and the caller gets a 500."""
    base = clean_base_url(url)
    others = Registry.objects.filter(base_url=base)
    if registry is not None and registry.pk is not None:
        others = others.exclude(pk=registry.pk)
    if others.exists():
        raise ValidationError(BASE_URL_TAKEN, code="unique")
    return base


def clean_crawl_interval(minutes: int) -> int:
    """Beat would otherwise hammer a registry (and fill the crawl history) every minute."""
    if minutes < MIN_CRAWL_INTERVAL_MINUTES:
        raise ValidationError(
            f"crawl_interval_minutes must be at least {MIN_CRAWL_INTERVAL_MINUTES}.",
            code="min_value",
        )
    return minutes


# --- crawling ---------------------------------------------------------------------------------


def run_registry_crawl(crawl: Crawl, progress: Progress) -> None:
    """Crawl runner: crawl the crawl's registry (full when options say so or on first crawl)."""
    registry = crawl.registry or Registry.objects.get(base_url=crawl.target)
    crawl_registry(
        registry, crawl=crawl, progress=progress, full=bool((crawl.options or {}).get("full"))
    )


def crawl_registry(
    registry: Registry, *, progress: Progress, crawl: Crawl, full: bool = False
) -> dict:
    """Fetch every page the registry has for us and write it; returns the crawl summary."""
    since = None if full else updated_since_for(registry)
    base = normalize_base_url(registry.base_url)
    allowed = settings.REGISTRY_PACKAGE_BASE_URLS or OFFICIAL_PACKAGE_BASE_URLS
    totals, seen_cursors = Counter(), set()
    prefix, cursor = None, None
    pacer = new_pacer()
    progress.summary.update(
        {"mode": "incremental" if since else "full", "updated_since": since or ""}
    )
    while True:
        body, prefix = fetch_page(base, prefix=prefix, cursor=cursor, since=since, pacer=pacer)
        items = body.get("servers") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise RegistryError("the response has no 'servers' list")
        totals.update(ingest_page(registry, items, crawl=crawl, progress=progress, allowed=allowed))
        progress.page()
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        cursor = metadata.get("nextCursor")
        if not cursor:
            break
        if not isinstance(cursor, str) or cursor in seen_cursors or len(seen_cursors) >= MAX_PAGES:
            raise RegistryError(f"the registry repeated a cursor or exceeded {MAX_PAGES} pages")
        seen_cursors.add(cursor)
    Registry.objects.filter(pk=registry.pk).update(last_crawled_at=timezone.now())
    progress.summary.update(
        {
            **totals,
            "api_version": prefix,
            "rate_limited_responses": pacer.refusals,
            "pace_seconds": round(pacer.interval, 3),
        }
    )
    return dict(progress.summary)


def updated_since_for(registry: Registry) -> str | None:
    """RFC 3339 start of the last successful crawl minus the overlap, or None (crawl all)."""
    last = Crawl.objects.last_done(registry, normalize_base_url(registry.base_url))
    if last is None:
        return None
    overlap = timedelta(seconds=settings.REGISTRY_UPDATED_SINCE_OVERLAP_SECONDS)
    return (last.started_at - overlap).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ingest_page(
    registry: Registry, items: list, *, crawl: Crawl, progress, allowed: dict
) -> Counter:
    """Parse and check each item, then write the good ones in one transaction."""
    entries = {}
    for index, item in enumerate(items):
        try:
            entry = parse_entry(item, check=False)
        except EntryError as exc:
            progress.error(f"item {index} skipped: {exc}")
            continue
        entries[(entry.name, entry.version)] = entry  # a repeated pair: the last one wins
    with transaction.atomic():
        result = write_entries(
            registry,
            list(entries.values()),
            crawl=crawl,
            now=timezone.now(),
            check=lambda e: check_entry(e, allowed_base_urls=allowed),
        )
    progress.record(len(entries))
    counts = Counter(result.as_counts())
    counts["problems"] = sum(len(e.problems) for e in entries.values() if e.checked)
    return counts


# --- scheduling -------------------------------------------------------------------------------


def start_registry_crawl(
    registry: Registry, *, actor=None, request=None, full: bool = False, requested_by: str = ""
) -> Crawl:
    """Queue a crawl of one registry (or return the one already open)."""
    return start_crawl(
        kind=Crawl.Kind.REGISTRY,
        target=normalize_base_url(registry.base_url),
        registry=registry,
        actor=actor,
        request=request,
        options={"full": True} if full else {},
        requested_by=requested_by,
    )


@transaction.atomic
def make_queued_crawl_full(crawl: Crawl, *, actor=None, request=None) -> bool:
    """Make a crawl still queued a full one (`crawl_registry --full` found one open and takes
    it over rather than queueing a second). Recorded; False if a worker claimed it meanwhile
    (the conditional UPDATE is the claim check)."""
    full = {**(crawl.options or {}), "full": True}
    taken = Crawl.objects.filter(pk=crawl.pk, status=Crawl.Status.QUEUED).update(options=full)
    if taken:
        record_admin_action(
            actor=actor,
            action="crawl.options_changed",
            obj=crawl,
            before={"options": crawl.options},
            after={"options": full},
            request=request,
        )
        crawl.options = full
    return bool(taken)


def start_due_registry_crawls(*, now=None) -> list[int]:
    """Beat: queue a crawl of each enabled registry whose interval has elapsed since its last."""
    now = now or timezone.now()
    last_queued = (
        Crawl.objects.filter(kind=Crawl.Kind.REGISTRY, registry=OuterRef("pk"))
        .order_by("-queued_at")
        .values("queued_at")[:1]
    )
    started = []
    for registry in Registry.objects.filter(enabled=True).annotate(
        last_queued=Subquery(last_queued)
    ):
        due = registry.last_queued is None or registry.last_queued <= now - timedelta(
            minutes=registry.crawl_interval_minutes
        )
        if due:
            started.append(start_registry_crawl(registry, requested_by="beat").pk)
    return started


# --- admin writes -----------------------------------------------------------------------------


def _snapshot(registry: Registry) -> dict:
    return {name: getattr(registry, name) for name in REGISTRY_FIELDS}


def _save_unique(registry: Registry) -> None:
    """Save in a savepoint. The form and the serializer check that base_url (and name) are unused,
    but another admin can save the same one between that check and this save: the unique
    constraint then raises an IntegrityError, which becomes the check's own ValidationError on
    that field (a 400 or a form error, not a 500). Any other IntegrityError is raised as it is."""
    try:
        with transaction.atomic():
            registry.save()
    except IntegrityError as exc:
        others = Registry.objects.exclude(pk=registry.pk) if registry.pk else Registry.objects
        if others.filter(base_url=registry.base_url).exists():
            error = {"base_url": ValidationError(BASE_URL_TAKEN, code="unique")}
        elif others.filter(name=registry.name).exists():
            error = {"name": registry.unique_error_message(Registry, ["name"])}
        else:
            raise
        raise ValidationError(error) from exc


@transaction.atomic
def create_registry(*, actor, request=None, **fields) -> Registry:
    """Add a registry to crawl, recorded as an admin action."""
    fields["base_url"] = normalize_base_url(fields["base_url"])
    registry = Registry(**{k: v for k, v in fields.items() if k in REGISTRY_FIELDS})
    _save_unique(registry)
    record_admin_action(
        actor=actor,
        action="registry.created",
        obj=registry,
        after=_snapshot(registry),
        request=request,
    )
    return registry


@transaction.atomic
def update_registry(registry: Registry, *, actor, request=None, **fields) -> Registry:
    """Edit (or enable/disable) a registry, recorded with before and after."""
    registry = Registry.objects.select_for_update().get(pk=registry.pk)
    before = _snapshot(registry)
    if "base_url" in fields:
        fields["base_url"] = normalize_base_url(fields["base_url"])
    for name, value in fields.items():
        if name in REGISTRY_FIELDS:
            setattr(registry, name, value)
    _save_unique(registry)
    after = _snapshot(registry)
    action = "registry.updated"
    if before["enabled"] != after["enabled"]:
        action = "registry.enabled" if after["enabled"] else "registry.disabled"
    record_admin_action(
        actor=actor, action=action, obj=registry, before=before, after=after, request=request
    )
    return registry


def registry_for_url(url: str, *, actor=None) -> tuple[Registry, bool]:
    """(registry, created): the registry with this base URL, added (and recorded) when it is new
    (the CLI's path). When another admin adds one with this base URL between the lookup and the
    save, that one is returned (created is False), whatever its name. Any other conflict (the name
    taken by a registry with another URL) is _save_unique's ValidationError naming the field."""
    base = normalize_base_url(url)
    existing = Registry.objects.filter(base_url=base).first()
    if existing:
        return existing, False
    host = urlsplit(base).netloc or base
    name = host if not Registry.objects.filter(name=host).exists() else base
    try:
        registry = create_registry(
            actor=actor,
            name=name[:200],
            base_url=base,
            kind=Registry.Kind.PRIVATE,
            enabled=True,
            crawl_interval_minutes=60,
        )
    except ValidationError as exc:
        # create_registry rolled its savepoint back; the row the constraint met can be read.
        if "base_url" not in getattr(exc, "error_dict", {}):
            raise
        existing = Registry.objects.filter(base_url=base).first()
        if existing is None:  # deleted again since: nothing to use
            raise
        return existing, False
    return registry, True
