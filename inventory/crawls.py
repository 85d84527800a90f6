"""Crawl jobs: start one (idempotently), run it exactly once, report progress, recover lost ones.

A crawl is a row; Celery only carries its id. The partial unique index
`one_open_crawl_per_target` makes "one open crawl per (kind, target)" a database fact, and a
worker claims a crawl with a conditional UPDATE (queued → running) so two deliveries of the
same message never run it twice. Runners are plain functions registered per kind:

    @register_runner("registry")
    def run_registry_crawl(crawl, progress): ...

`Progress` persists counts at most every PROGRESS_INTERVAL seconds (the UI polls them) and
doubles as the heartbeat the sweeper watches.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from inventory.models import Crawl

log = logging.getLogger(__name__)

RUNNERS: dict[str, Callable[[Crawl, "Progress"], None]] = {}
# Modules that register runners; imported before a crawl runs so a worker knows every kind.
RUNNER_MODULES = ["inventory.services.registry", "inventory.services.cimd",
                  "inventory.services.oauth_metadata"]
# Target of the daily "refresh every due CIMD document" crawl.
CIMD_SWEEP_TARGET = "all-due-documents"

PROGRESS_INTERVAL = 1.0  # seconds between progress writes
MAX_ERROR_LOG = 200  # error_log keeps the first errors; `errors` still counts them all


class CrawlLost(Exception):
    """This worker no longer holds the crawl (the sweeper gave it to another)."""


def register_runner(kind: str):
    """Decorator: `fn(crawl, progress)` runs crawls of `kind`."""

    def decorator(fn):
        RUNNERS[kind] = fn
        return fn

    return decorator


def load_runners() -> None:
    """Import the modules that register runners (idempotent)."""
    for module in RUNNER_MODULES:
        importlib.import_module(module)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


# --- starting ---------------------------------------------------------------------------------

def start_crawl(*, kind: str, target: str, registry=None, actor=None, request=None,
                options: dict | None = None, requested_by: str = "") -> Crawl:
    """Queue a crawl of `target`, or return the open one; its task is sent after commit."""
    from governance.services import record_admin_action

    if kind not in Crawl.Kind.values:
        raise ValueError(f"unknown crawl kind {kind!r}")
    with transaction.atomic():
        crawl, created = _open_crawl(kind=kind, target=target, registry=registry,
                                     options=options or {},
                                     requested_by=requested_by or _who(actor))
        if created:
            if actor is not None:
                record_admin_action(actor=actor, action="crawl.started", obj=crawl,
                                    after={"kind": kind, "target": target, **(options or {})},
                                    request=request)
            transaction.on_commit(lambda: enqueue(crawl.pk))
    return crawl


def open_crawl(*, kind: str, target: str, registry=None, options: dict | None = None,
               requested_by: str = "") -> tuple[Crawl, bool]:
    """Create a queued crawl without sending a task (inline runs); (crawl, created)."""
    with transaction.atomic():
        return _open_crawl(kind=kind, target=target, registry=registry, options=options or {},
                           requested_by=requested_by)


def _who(actor) -> str:
    return actor.get_username() if getattr(actor, "is_authenticated", False) else ""


def _open_crawl(*, kind, target, registry, options, requested_by) -> tuple[Crawl, bool]:
    # Insert first and let the partial unique index decide (never check-then-act). A crawl
    # that finishes between our failed insert and the read is retried once.
    for _attempt in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                return Crawl.objects.create(kind=kind, target=target, registry=registry,
                                            options=options, requested_by=requested_by,
                                            queued_at=now, enqueued_at=now), True
        except IntegrityError:
            existing = Crawl.objects.filter(kind=kind, target=target,
                                            status__in=Crawl.OPEN_STATUSES).first()
            if existing is not None:
                return existing, False
    raise RuntimeError(f"could not open a crawl of {target}")


def enqueue(crawl_id: int) -> None:
    """Send the Celery message for a crawl (also used by the sweeper to resend)."""
    from inventory.tasks import run_crawl

    run_crawl.delay(crawl_id)


# --- running ----------------------------------------------------------------------------------

def claim(crawl_id: int) -> Crawl | None:
    """queued → running for exactly one caller; None when someone else has (or had) it."""
    now = timezone.now()
    token = uuid.uuid4()
    claimed = Crawl.objects.filter(pk=crawl_id, status=Crawl.Status.QUEUED).update(
        status=Crawl.Status.RUNNING, run_token=token, started_at=now, heartbeat_at=now,
        finished_at=None, attempts=F("attempts") + 1)
    return Crawl.objects.get(pk=crawl_id) if claimed else None


def execute_crawl(crawl_id: int, *, progress_class: type["Progress"] | None = None) -> str:
    """Claim and run one crawl; safe to call twice (the second call finds nothing to claim).

    Returns the final status, "not-claimed" or "lost". `progress_class` lets the CLI draw
    progress bars.
    """
    crawl = claim(crawl_id)
    if crawl is None:
        return "not-claimed"
    load_runners()
    progress = (progress_class or Progress)(crawl)
    runner = RUNNERS.get(crawl.kind)
    heartbeat = Heartbeat(crawl, interval=_setting("CRAWL_HEARTBEAT_SECONDS", 30))
    heartbeat.start()
    try:
        if runner is None:
            raise RuntimeError(f"no runner is registered for {crawl.kind!r} crawls")
        runner(crawl, progress)
    except CrawlLost:
        log.warning("crawl %s was handed to another worker; this run stops", crawl_id)
        return "lost"
    except Exception as exc:  # the crawl row records the failure; the worker stays up
        log.exception("crawl %s failed", crawl_id)
        progress.error(f"crawl failed: {exc}"[:1000])
        return _finish(crawl, progress, Crawl.Status.FAILED)
    finally:
        heartbeat.stop()
    return _finish(crawl, progress, Crawl.Status.DONE)


class Heartbeat(threading.Thread):
    """Beats for a running crawl even while its runner is busy between progress calls (a long
    fetch, a Retry-After wait), so the sweeper only recovers crawls whose worker is gone."""

    def __init__(self, crawl: Crawl, *, interval: float):
        super().__init__(name=f"crawl-{crawl.pk}-heartbeat", daemon=True)
        self.crawl = crawl
        self.interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                Crawl.objects.filter(pk=self.crawl.pk, run_token=self.crawl.run_token,
                                     status=Crawl.Status.RUNNING).update(
                    heartbeat_at=timezone.now())
        except Exception:  # a heartbeat must never take the worker down
            log.exception("heartbeat of crawl %s stopped", self.crawl.pk)
        finally:
            connection.close()  # this thread's own connection

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=self.interval + 5)


def _finish(crawl: Crawl, progress: "Progress", status: str) -> str:
    updated = Crawl.objects.filter(pk=crawl.pk, run_token=crawl.run_token,
                                   status=Crawl.Status.RUNNING).update(
        status=status, finished_at=timezone.now(), **progress.counts(),
        summary=progress.summary)
    return status if updated else "lost"


class Progress:
    """Counts pages, records and errors of a running crawl and persists them, throttled."""

    def __init__(self, crawl: Crawl, *, interval: float = PROGRESS_INTERVAL):
        self.crawl = crawl
        self.pages = crawl.pages
        self.records = crawl.records
        self.errors = crawl.errors
        self.error_log = list(crawl.error_log or [])
        self.summary: dict = dict(crawl.summary or {})
        self.interval = interval
        self._last_flush = 0.0

    def page(self) -> None:
        self.pages += 1
        self.maybe_flush()

    def record(self, n: int = 1) -> None:
        self.records += n
        self.maybe_flush()

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_log) < MAX_ERROR_LOG:
            self.error_log.append({"at": timezone.now().isoformat(), "message": str(message)[:1000]})
        self.maybe_flush()

    def counts(self) -> dict:
        return {"pages": self.pages, "records": self.records, "errors": self.errors,
                "error_log": self.error_log}

    def maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Write counts and the heartbeat; raises CrawlLost if this run lost the crawl."""
        self._last_flush = time.monotonic()
        updated = Crawl.objects.filter(pk=self.crawl.pk, run_token=self.crawl.run_token,
                                       status=Crawl.Status.RUNNING).update(
            heartbeat_at=timezone.now(), **self.counts())
        if not updated and self.crawl.run_token is not None:
            raise CrawlLost(self.crawl.pk)


# --- recovering -------------------------------------------------------------------------------

def sweep_crawls(*, now=None) -> dict:
    """Resend queued crawls whose message was lost; re-queue (or fail) silent running ones."""
    now = now or timezone.now()
    resend_after = timedelta(minutes=_setting("CRAWL_RESEND_AFTER_MINUTES", 10))
    stale_after = timedelta(minutes=_setting("CRAWL_HEARTBEAT_TIMEOUT_MINUTES", 10))
    max_attempts = _setting("CRAWL_MAX_ATTEMPTS", 3)
    resent = requeued = failed = 0

    for crawl_id in Crawl.objects.filter(status=Crawl.Status.QUEUED,
                                         enqueued_at__lt=now - resend_after).values_list("pk", flat=True):
        # Conditional, so two sweepers don't both resend (a duplicate would be harmless anyway).
        if Crawl.objects.filter(pk=crawl_id, status=Crawl.Status.QUEUED,
                                enqueued_at__lt=now - resend_after).update(enqueued_at=now):
            enqueue(crawl_id)
            resent += 1

    stale = Crawl.objects.filter(status=Crawl.Status.RUNNING, heartbeat_at__lt=now - stale_after)
    for crawl in stale:
        note = {"at": now.isoformat(), "message": "worker went silent (no heartbeat since "
                f"{crawl.heartbeat_at.isoformat()})"}
        still_stale = Crawl.objects.filter(pk=crawl.pk, status=Crawl.Status.RUNNING,
                                           run_token=crawl.run_token)
        if crawl.attempts < max_attempts:
            if still_stale.update(status=Crawl.Status.QUEUED, run_token=None, enqueued_at=now,
                                  error_log=(crawl.error_log or [])[:MAX_ERROR_LOG - 1] + [note],
                                  errors=F("errors") + 1):
                enqueue(crawl.pk)
                requeued += 1
        elif still_stale.update(status=Crawl.Status.FAILED, finished_at=now,
                                error_log=(crawl.error_log or [])[:MAX_ERROR_LOG - 1] + [note],
                                errors=F("errors") + 1):
            failed += 1
    return {"resent": resent, "requeued": requeued, "failed": failed}


# --- reads for the UI ------------------------------------------------------------------------

def crawl_history(*, kind: str = "", status: str = "", registry_id: int | None = None,
                  target: str = ""):
    """Crawls newest first, filtered as the Discovery page asks."""
    crawls = Crawl.objects.select_related("registry")
    if kind:
        crawls = crawls.filter(kind=kind)
    if status:
        crawls = crawls.filter(status=status)
    if registry_id:
        crawls = crawls.filter(registry_id=registry_id)
    if target:
        crawls = crawls.filter(target__icontains=target)
    return crawls.order_by("-queued_at", "-id")


def last_done_crawl(registry, target: str) -> Crawl | None:
    """The registry's most recent successful crawl of `target` (its base URL now: a crawl of a
    URL the registry had before says nothing about what the new one holds)."""
    return (Crawl.objects.filter(kind=Crawl.Kind.REGISTRY, registry=registry, target=target,
                                 status=Crawl.Status.DONE, started_at__isnull=False)
            .order_by("-started_at").first())
