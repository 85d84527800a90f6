"""CIMD crawling: fetch each https client_id's metadata document, validate it, keep every
distinct version, raise flags on risky changes, and schedule the next fetch from cache headers.

Sources of CIMD clients: Client rows whose client_id is an https URL (created by event
ingestion and grant sync), and URLs an Admin adds by hand (`add_client_url`). The daily sweep
(`refresh_due_documents`) claims due documents with a conditional update, so two sweeps running
at once never fetch the same document twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from governance.access.records import record_admin_action
from inventory import cimd_checks
from inventory.fetch import FetchError, allows_plain_http, write_fetch_log
from inventory.models import (
    Client,
    ClientDocument,
    ClientDocumentState,
    Crawl,
    FetchRecord,
    Flag,
    SeenFrom,
)
from inventory.problems import problem
from inventory.secret_members import mask_secrets
from inventory.services.cimd_flags import (  # noqa: F401 - the flag kinds are public here
    FETCH_FAILED,
    INTERNAL_URI,
    INVALID_DOCUMENT,
    LOCALHOST_ONLY,
    LOCALHOST_REDIRECT,
    SECRET_PUBLISHED,
    SPECIAL_USE,
    STATE_FLAGS,
    raise_change_flags,
    secret_paths,
    sync_state_flags,
)
from inventory.services.crawls import CIMD_SWEEP_TARGET
from inventory.services.flags import raise_flag, resolve_open_flags
from inventory.services.inventory_rules import run_risky_first_seen
from inventory.upstream import cimd as upstream

logger = logging.getLogger(__name__)
# A claimed document that a crashed sweep never finished becomes due again after this.
CLAIM_LEASE = timedelta(minutes=10)


@dataclass
class RefreshOutcome:
    """What one refresh did, for the command line, the crawl progress and tests."""

    url: str
    outcome: str
    changed: bool = False
    version: ClientDocument | None = None
    problems: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    error: str = ""
    next_fetch_at: object = None


def url_problems(url: str) -> list[dict]:
    """The client_id URL shape problems, except plain http on an allow-listed lab host."""
    found = cimd_checks.validate_client_id_url(url)
    if allows_plain_http(url):
        found = [p for p in found if p["code"] != "url_not_https"]
    return found


def refresh_bounds() -> tuple[int, int]:
    return settings.CIMD_REFRESH_MIN_SECONDS, settings.CIMD_REFRESH_MAX_SECONDS


def next_refresh_delay(
    max_age: int | None, *, failures: int = 0, retry_after: float | None = None
) -> int:
    """Seconds until the next fetch: max-age within bounds; failures back off exponentially."""
    low, high = refresh_bounds()
    if failures:
        delay = min(high, low * 2 ** min(failures - 1, 16))
        return int(min(high, max(delay, retry_after or 0)))
    return int(min(high, max(low, high if max_age is None else max_age)))


@transaction.atomic
def ensure_cimd_client(url: str, *, seen_from: str = SeenFrom.CIMD) -> Client:
    """The Client row for a CIMD URL (created if new) with its crawl state."""
    now = timezone.now()
    client, _ = Client.objects.get_or_create(
        client_id=url,
        defaults={
            "registration": Client.Registration.CIMD,
            "first_seen": now,
            "last_seen": now,
            "seen_from": seen_from,
        },
    )
    ClientDocumentState.objects.get_or_create(client=client)
    return client


def add_client_url(*, url: str, actor, request=None) -> Client:
    """An Admin adds a CIMD client_id URL by hand; due for fetching at once. Recorded."""
    url = (url or "").strip()
    errors = [p for p in url_problems(url) if p["severity"] == cimd_checks.ERROR]
    if errors:
        raise ValidationError({"url": [p["message"] for p in errors]})
    with transaction.atomic():
        existed = Client.objects.filter(client_id=url).exists()
        client = ensure_cimd_client(url, seen_from=SeenFrom.MANUAL)
        ClientDocumentState.objects.filter(client=client).update(next_fetch_at=timezone.now())
        record_admin_action(
            actor=actor,
            action="client.cimd_added",
            obj=client,
            request=request,
            after={"client_id": url},
            note="existing client" if existed else "",
        )
    return client


def request_refetch(*, client: Client, actor, request=None) -> None:
    """An Admin asks for a re-fetch now (the sweep or a crawl job picks it up). Recorded."""
    with transaction.atomic():
        state, _ = ClientDocumentState.objects.get_or_create(client=client)
        before = state.next_fetch_at
        state.next_fetch_at = timezone.now()
        state.save(update_fields=["next_fetch_at"])
        record_admin_action(
            actor=actor,
            action="client.cimd_refetch_requested",
            obj=client,
            request=request,
            before={"next_fetch_at": before.isoformat() if before else None},
        )


def sync_cimd_clients() -> int:
    """Give every https client_id seen in events or grants a crawl state; how many were new."""
    missing = Client.objects.filter(client_id__startswith="https://", cimd_state__isnull=True)
    created = ClientDocumentState.objects.bulk_create(
        [ClientDocumentState(client_id=pk) for pk in missing.values_list("id", flat=True)],
        ignore_conflicts=True,
    )
    return len(created)


def documents_due(*, now=None) -> bool:
    """Would a sweep fetch anything now? (a new https client, or a document whose cache
    lifetime has run out). Lets beat look often without filling the crawl history."""
    now = now or timezone.now()
    return (
        Client.objects.filter(client_id__startswith="https://", cimd_state__isnull=True).exists()
        or ClientDocumentState.objects.exclude(next_fetch_at__gt=now).exists()
    )


@dataclass
class Fetched:
    """One document fetch and its validation, before anything is stored (no database)."""

    client_id: int
    url: str
    raw: bytes | None = None
    document: object = None
    problems: list = field(default_factory=list)
    max_age: int | None = None
    error_reason: str = ""
    error: str = ""
    retry_after: float | None = None


def fetch_document(client_id: int, url: str, *, log_sink=None) -> Fetched:
    """Fetch (inventory.upstream.cimd) and validate one document (no database; safe to call from
    worker threads)."""
    shape = url_problems(url)
    if not cimd_checks.is_valid(shape):
        return Fetched(
            client_id, url, problems=shape, error_reason="invalid_url", error=shape[0]["message"]
        )
    try:
        fetched = upstream.fetch_document(url, log_sink=log_sink)
    except FetchError as exc:
        return Fetched(
            client_id, url, error_reason=exc.reason, error=exc.message, retry_after=exc.retry_after
        )
    raw, document = fetched.raw, fetched.document
    if fetched.json_error:
        problems = [
            problem("invalid_json", fetched.json_error, field="", severity=cimd_checks.ERROR)
        ]
    else:
        problems = cimd_checks.validate_document(url, document)
        document, masked = mask_secrets(document)
        if masked:  # what is stored and shown is the masked form (raw too); see secret_members
            raw = json.dumps(document, indent=2, ensure_ascii=False).encode()
    return Fetched(
        client_id,
        url,
        raw=raw,
        document=document,
        problems=shape + problems,
        max_age=fetched.max_age,
    )


def refresh_client_document(client: Client | str) -> RefreshOutcome:
    """Fetch, validate and store one client's document now (network I/O outside transactions)."""
    if isinstance(client, str):
        client = ensure_cimd_client(client)
    return store_fetched([fetch_document(client.pk, client.client_id)])[0]


@transaction.atomic
def store_fetched(batch: list[Fetched], *, log_rows: list[dict] = ()) -> list[RefreshOutcome]:
    """Store a batch of fetches in one transaction: a handful of statements for the whole batch
    (this is what lets a sweep keep up with the network), per-row work only for the rare ones
    that fail or change."""
    if log_rows:
        write_fetch_log(list(log_rows))
    now = timezone.now()
    clients = Client.objects.in_bulk([f.client_id for f in batch])
    batch = [f for f in batch if f.client_id in clients]  # deleted while being fetched
    outcomes = [
        _record_failure(
            clients[f.client_id], f.error_reason, f.error, f.problems, retry_after=f.retry_after
        )
        for f in batch
        if f.raw is None
    ]
    fetched = [f for f in batch if f.raw is not None]
    if not fetched:
        return outcomes
    ids = [f.client_id for f in fetched]
    ClientDocumentState.objects.bulk_create(
        [ClientDocumentState(client_id=i) for i in ids], ignore_conflicts=True
    )
    states = {
        s.client_id: s
        for s in ClientDocumentState.objects.select_for_update(of=("self",))
        .select_related("current")
        .filter(client_id__in=ids)
    }
    versions = ClientDocument.objects.bulk_create(
        [_version(f, now) for f in fetched],
        update_conflicts=True,
        unique_fields=["client", "sha256"],
        update_fields=["last_fetched_at"],
    )
    for item, version in zip(fetched, versions):
        outcomes.append(_apply(clients[item.client_id], states[item.client_id], item, version, now))
    _save_states(list(states.values()), now)
    renamed = [clients[f.client_id] for f in fetched if _rename(clients[f.client_id], f)]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inventory_client AS c SET last_seen = %s, registration = %s,"
            " name = COALESCE(v.name, c.name)"
            " FROM unnest(%s::bigint[], %s::text[]) AS v(id, name) WHERE c.id = v.id",
            [
                now,
                Client.Registration.CIMD,
                ids,
                [clients[i].name if clients[i] in renamed else None for i in ids],
            ],
        )
    return outcomes


def _save_states(states: list[ClientDocumentState], now) -> None:
    """One UPDATE for the batch (Django's bulk_update builds a CASE per row and field, which
    costs more CPU than the fetches themselves)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inventory_clientdocumentstate AS s SET current_id = v.current_id,"
            " outcome = v.outcome, last_fetched_at = %s, last_success_at = %s,"
            " last_error_reason = v.reason, last_error = v.error, consecutive_failures = 0,"
            " next_fetch_at = v.next_at"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[],"
            " %s::timestamptz[]) AS v(id, current_id, outcome, reason, error, next_at)"
            " WHERE s.id = v.id",
            [
                now,
                now,
                [s.pk for s in states],
                [s.current_id for s in states],
                [s.outcome for s in states],
                [s.last_error_reason for s in states],
                [s.last_error for s in states],
                [s.next_fetch_at for s in states],
            ],
        )


def _version(item: Fetched, now) -> ClientDocument:
    return ClientDocument(
        client_id=item.client_id,
        sha256=hashlib.sha256(item.raw).hexdigest(),
        content=item.document,
        raw=item.raw.decode("utf-8", "replace"),
        problems=item.problems,
        is_valid=cimd_checks.is_valid(item.problems),
        first_fetched_at=now,
        last_fetched_at=now,
    )


def _rename(client: Client, item: Fetched) -> bool:
    """A valid document names its client (an invalid one does not get to)."""
    name = item.document.get("client_name") if isinstance(item.document, dict) else None
    if cimd_checks.is_valid(item.problems) and isinstance(name, str) and client.name != name[:300]:
        client.name = name[:300]
        return True
    return False


def _apply(client, state, item: Fetched, version: ClientDocument, now) -> RefreshOutcome:
    """Flags and crawl state for one stored fetch (the state row is saved by the caller)."""
    previous = state.current
    changed = previous is None or previous.pk != version.pk
    flags = raise_change_flags(client, previous, version) if changed and previous else []
    if changed:  # an unchanged document has its state flags already (and nothing to resolve)
        flags += sync_state_flags(client, version, item.problems, first=previous is None)
    if state.consecutive_failures or state.outcome == ClientDocumentState.Outcome.FAILED:
        resolve_open_flags(client, (FETCH_FAILED, SPECIAL_USE), by="system: document fetched again")
    valid = version.is_valid
    # An invalid document must not be cached (CIMD §caching): retry at the minimum interval.
    delay = next_refresh_delay(item.max_age if valid else 0)
    state.current, state.last_fetched_at, state.last_success_at = version, now, now
    state.outcome = ClientDocumentState.Outcome.OK if valid else ClientDocumentState.Outcome.INVALID
    state.last_error_reason = "" if valid else "invalid_document"
    state.last_error = (
        ""
        if valid
        else "; ".join(p["message"] for p in item.problems if p["severity"] == cimd_checks.ERROR)[
            :500
        ]
    )
    state.consecutive_failures = 0
    state.next_fetch_at = now + timedelta(seconds=delay)
    return RefreshOutcome(
        url=client.client_id,
        outcome=state.outcome,
        changed=changed,
        version=version,
        problems=item.problems,
        flags=flags,
        error=state.last_error,
        next_fetch_at=state.next_fetch_at,
    )


@transaction.atomic
def _record_failure(
    client, reason: str, message: str, problems=None, *, retry_after: float | None = None
) -> RefreshOutcome:
    """A failed fetch: keep the last good version, back off, flag it (never cache the error)."""
    now = timezone.now()
    state = ClientDocumentState.objects.select_for_update().get_or_create(client=client)[0]
    state.consecutive_failures += 1
    state.outcome = ClientDocumentState.Outcome.FAILED
    state.last_fetched_at, state.last_error_reason, state.last_error = now, reason, message[:500]
    delay = next_refresh_delay(None, failures=state.consecutive_failures, retry_after=retry_after)
    state.next_fetch_at = now + timedelta(seconds=delay)
    state.save()
    details = {
        "reason": reason,
        "message": message[:500],
        "consecutive_failures": state.consecutive_failures,
        "problems": problems or [],
    }
    flags = [
        raise_flag(
            kind=FETCH_FAILED,
            obj=client,
            severity=(Flag.Severity.HIGH if state.last_success_at else Flag.Severity.WARNING),
            summary=f"Client metadata document cannot be fetched: {message[:200]}",
            details=details,
        )
    ]
    if reason == "blocked_address":
        flags.append(
            raise_flag(
                kind=SPECIAL_USE,
                obj=client,
                severity=Flag.Severity.HIGH,
                summary=f"client_id host resolves to a special-use address: {message[:200]}",
                details=details,
            )
        )
    return RefreshOutcome(
        url=client.client_id,
        outcome=state.outcome,
        error=message,
        problems=problems or [],
        flags=[flag for flag in flags if flag is not None],  # None: a rule turned off
        next_fetch_at=state.next_fetch_at,
    )


def claim_due_documents(*, limit: int = 500, now=None) -> list[tuple[int, str]]:
    """(client id, URL) of due documents, claimed (pushed out by a lease) so no one else takes
    them; a sweep that dies leaves them due again once the lease ends."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            ClientDocumentState.objects.select_for_update(skip_locked=True)
            .exclude(next_fetch_at__gt=now)
            .order_by(F("next_fetch_at").asc(nulls_first=True))
            .values_list("id", flat=True)[:limit]
        )
        ClientDocumentState.objects.filter(id__in=ids).update(next_fetch_at=now + CLAIM_LEASE)
        return list(
            ClientDocumentState.objects.filter(id__in=ids).values_list(
                "client_id", "client__client_id"
            )
        )


def refresh_due_documents(
    *, limit: int = 500, concurrency: int = 8, batch_size: int = 100, progress=None
) -> dict:
    """The sweep: adopt new https clients, then fetch every due document.

    Worker threads only fetch and validate (no database); this thread stores finished fetches
    in batches while the workers keep fetching.
    """
    sync_cimd_clients()
    claimed = claim_due_documents(limit=limit)
    counts = {"due": len(claimed), "ok": 0, "invalid": 0, "failed": 0, "changed": 0}
    if progress is not None:
        progress.page()
    logs = queue.SimpleQueue()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [pool.submit(_fetch_safely, cid, url, logs.put) for cid, url in claimed]
        batch = []
        for future in as_completed(futures):
            batch.append(future.result())
            if len(batch) >= batch_size:
                _store_batch(batch, logs, counts, progress)
                batch = []
        if batch:
            _store_batch(batch, logs, counts, progress)
    return counts


def _fetch_safely(client_id, url, log_sink) -> Fetched:
    try:
        return fetch_document(client_id, url, log_sink=log_sink)
    except Exception as exc:  # one bad document must not stop the sweep
        logger.exception("CIMD fetch of %s failed", url)
        return Fetched(client_id, url, error_reason="internal_error", error=str(exc)[:300])


def _store_batch(batch, logs, counts, progress) -> None:
    rows = []
    while True:
        try:
            rows.append(logs.get_nowait())
        except queue.Empty:
            break
    for outcome in store_fetched(batch, log_rows=rows):
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
        counts["changed"] += int(outcome.changed)
        if progress is not None:
            progress.record()
            if outcome.outcome == "failed":
                progress.error(f"{outcome.url}: {outcome.error}"[:300])


def prune_fetch_log(*, days: int | None = None) -> int:
    """Delete fetch-log rows past retention; the log is for troubleshooting, not an audit trail."""
    days = settings.FETCH_LOG_RETENTION_DAYS if days is None else days
    deleted, _ = FetchRecord.objects.filter(at__lt=timezone.now() - timedelta(days=days)).delete()
    return deleted


# --- Crawl jobs ---------------------------------------------------------------------------------


def run_cimd_crawl(crawl: Crawl, progress) -> None:
    """Crawl runner: the sweep of every due document (target CIMD_SWEEP_TARGET), or one
    client_id URL refreshed now."""
    if crawl.target == CIMD_SWEEP_TARGET:
        counts = refresh_due_documents(
            limit=int((crawl.options or {}).get("limit", 5000)),
            concurrency=settings.CIMD_CRAWL_CONCURRENCY,
            progress=progress,
        )
        counts["fetch_log_pruned"] = prune_fetch_log()
        counts["risky_first_seen"] = run_risky_first_seen()
        progress.summary.update(counts)
        return
    progress.page()
    outcome = refresh_client_document(crawl.target)
    progress.record()
    if outcome.outcome == "failed":
        progress.error(f"{crawl.target}: {outcome.error}"[:300])
    progress.summary.update(
        {
            "outcome": outcome.outcome,
            "changed": outcome.changed,
            "flags": [f.kind for f in outcome.flags],
            "risky_first_seen": run_risky_first_seen(),
        }
    )
