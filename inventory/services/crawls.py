"""Crawls as jobs: start one (idempotently), run it, sweep lost ones.

The engine (claiming, heartbeat, progress, finishing, retries, the sweeper) is the shared
`governance.platform.jobs`; this module is what the rest of the inventory calls for crawls.
Runners are plain functions `fn(crawl, progress)`, one per `Crawl.Kind`, registered with
`register_runner` in `InventoryConfig.ready()` (so this module imports none of the runners).
"""

from __future__ import annotations

from django.db import transaction

from governance.access.records import record_admin_action
from governance.platform import jobs
from governance.platform.jobs import JobLost as CrawlLost  # noqa: F401  (re-exported)
from governance.platform.jobs import Progress  # noqa: F401  (re-exported for runners)
from inventory.models import Crawl

# Target of the daily "refresh every due CIMD document" crawl.
CIMD_SWEEP_TARGET = "all-due-documents"


def register_runner(kind: str, fn):
    """`fn(crawl, progress)` runs crawls of `kind` (call from AppConfig.ready())."""
    return jobs.register_runner(Crawl, kind, fn)


# --- starting ---------------------------------------------------------------------------------


def start_crawl(
    *,
    kind: str,
    target: str,
    registry=None,
    actor=None,
    request=None,
    options: dict | None = None,
    requested_by: str = "",
) -> Crawl:
    """Queue a crawl of `target`, or return the open one; its task is sent after commit."""
    if kind not in Crawl.Kind.values:
        raise ValueError(f"unknown crawl kind {kind!r}")
    with transaction.atomic():
        crawl, created = jobs.open_job(
            Crawl,
            kind=kind,
            target=target,
            registry=registry,
            options=options or {},
            requested_by=requested_by or _who(actor),
        )
        if created:
            if actor is not None:
                record_admin_action(
                    actor=actor,
                    action="crawl.started",
                    obj=crawl,
                    after={"kind": kind, "target": target, **(options or {})},
                    request=request,
                )
            transaction.on_commit(lambda: enqueue(crawl.pk))
    return crawl


def enqueue(crawl_id: int) -> None:
    """Send the Celery message that runs a crawl (the task InventoryConfig.ready() registered)."""
    jobs.kind_of(Crawl).enqueue(crawl_id)


def open_crawl(
    *, kind: str, target: str, registry=None, options: dict | None = None, requested_by: str = ""
) -> tuple[Crawl, bool]:
    """Create a queued crawl without sending a task (inline runs); (crawl, created)."""
    with transaction.atomic():
        return jobs.open_job(
            Crawl,
            kind=kind,
            target=target,
            registry=registry,
            options=options or {},
            requested_by=requested_by,
        )


def _who(actor) -> str:
    return actor.get_username() if getattr(actor, "is_authenticated", False) else ""


# --- running and recovering -------------------------------------------------------------------


def claim(crawl_id: int) -> Crawl | None:
    """queued → running for exactly one caller; None when someone else has (or had) it."""
    return jobs.claim(Crawl, crawl_id)


def execute_crawl(crawl_id: int, *, progress_class=None) -> str:
    """Claim and run one crawl (see `jobs.execute`): the final status, "not-claimed" or "lost"."""
    return jobs.execute(Crawl, crawl_id, progress_class=progress_class)


def sweep_crawls(*, now=None) -> dict:
    """Resend queued crawls whose message was lost; re-queue (or fail) silent running ones."""
    return jobs.sweep(Crawl, now=now)
