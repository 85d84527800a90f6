"""The job engine: a job is a row, Celery only carries its id (STYLE.md "Jobs are rows").

Every job kind (crawls today; IdP syncs, revocations, reports, deliveries next) gets the same
guarantees from here:
- *one open job per target* is a partial unique constraint (`one_open_job_per`), and
  `open_job` inserts first and lets that index decide, never check-then-act;
- `claim` moves queued → running with a conditional UPDATE and a fresh run token, so two
  deliveries of one message never run it twice, and only the token holder writes progress and
  the final status;
- `Progress` persists counts (throttled) and the error log, a `Heartbeat` thread beats while the
  runner is busy, and `sweep_jobs` resends queued jobs whose message was lost and re-queues (up
  to CRAWL_MAX_ATTEMPTS runs, then fails) running jobs whose heartbeat went silent.

A new job kind:
1. subclass `Job` (abstract) with its target fields, list them in `JOB_TARGET`, and add
   `one_open_job_per(*JOB_TARGET, name=...)` to its Meta constraints;
2. in its app's `AppConfig.ready()`, `register_job_kind(Model, enqueue=task.delay)` (plus
   `on_give_up=fn` when a failed job must conclude more than its status) and
   `register_runner(Model, key, fn)` for each runner (`fn(job, progress)`);
3. nothing else: the sweeper (beat task `platform.sweep_jobs`) covers every registered kind.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 1.0  # seconds between progress writes
MAX_ERROR_LOG = 200  # error_log keeps the first errors; `errors` still counts them all


class JobLost(Exception):
    """This worker no longer holds the job (the sweeper gave it to another)."""


class Job(models.Model):
    """Abstract job row: status, run token, heartbeat, progress counts, attempts, error log."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    OPEN_STATUSES = (Status.QUEUED, Status.RUNNING)
    # The fields naming what a job works on; at most one open job per combination.
    JOB_TARGET: tuple[str, ...] = ()

    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    options = models.JSONField(default=dict, blank=True, help_text='e.g. {"full": true}')
    pages = models.PositiveIntegerField(default=0)
    records = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    error_log = models.JSONField(
        default=list, blank=True, help_text="The first errors, as {at, message} (capped)."
    )
    summary = models.JSONField(default=dict, blank=True, help_text="What the runner reports.")
    requested_by = models.CharField(
        max_length=200, blank=True, help_text='"beat", "command" or a user.'
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # Set when a worker claims the job; progress and the final status are written only by the
    # holder of this token, so a job the sweeper handed to another worker is not overwritten
    # by the one that went silent.
    run_token = models.UUIDField(null=True, blank=True)
    queued_at = models.DateTimeField(db_index=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When its Celery message was last sent."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def elapsed(self) -> int | None:
        """Whole seconds run so far (or in total, once finished); for templates."""
        seconds = self.elapsed_seconds(timezone.now())
        return None if seconds is None else int(seconds)

    def elapsed_seconds(self, now) -> float | None:
        """Seconds since the job started (until it finished, when it has)."""
        if not self.started_at:
            return None
        return ((self.finished_at or now) - self.started_at).total_seconds()


def one_open_job_per(*fields: str, name: str) -> models.UniqueConstraint:
    """The partial unique constraint "at most one queued or running job per `fields`"."""
    return models.UniqueConstraint(
        fields=list(fields), name=name, condition=Q(status__in=["queued", "running"])
    )


# --- the registry of job kinds ------------------------------------------------------------------

Runner = Callable[[Job, "Progress"], None]


@dataclass
class JobKind:
    """How to send a job's message and which runner runs it (chosen by `runner_key(job)`).
    `on_give_up(job)`, when set, runs once the engine has marked a job failed (its runner
    raised, or the sweeper found it silent after its last allowed attempt), so a kind whose
    rows carry more than a status (a revocation's outcome and audit event) can conclude them."""

    model: type[Job]
    enqueue: Callable[[int], object]
    runner_key: Callable[[Job], str] = lambda job: ""
    runners: dict[str, Runner] = field(default_factory=dict)
    on_give_up: Callable[[Job], None] | None = None


KINDS: dict[str, JobKind] = {}


def register_job_kind(
    model: type[Job],
    *,
    enqueue: Callable[[int], object],
    runner_key: Callable[[Job], str] | None = None,
    on_give_up: Callable[[Job], None] | None = None,
) -> JobKind:
    """Make `model` a job kind (call from AppConfig.ready()); idempotent, keeps its runners."""
    kind = KINDS.get(model._meta.label)
    if kind is None:
        kind = KINDS[model._meta.label] = JobKind(model=model, enqueue=enqueue)
    kind.enqueue = enqueue
    if runner_key is not None:
        kind.runner_key = runner_key
    if on_give_up is not None:
        kind.on_give_up = on_give_up
    return kind


def kind_of(model: type[Job]) -> JobKind:
    """The registration of `model` (a LookupError names a model nobody registered)."""
    try:
        return KINDS[model._meta.label]
    except KeyError:
        raise LookupError(f"{model._meta.label} is not a registered job kind") from None


def register_runner(model: type[Job], key: str, fn: Runner) -> Runner:
    """`fn(job, progress)` runs the jobs of `model` whose `runner_key` is `key`."""
    kind_of(model).runners[key] = fn
    return fn


def enqueue(job: Job) -> None:
    """Send the Celery message for a job (the sweeper resends through this too)."""
    kind_of(type(job)).enqueue(job.pk)


# --- opening and running --------------------------------------------------------------------------


def open_job(model: type[Job], **values) -> tuple[Job, bool]:
    """Insert a queued job, or return the open one for the same target; (job, created)."""
    target = {name: values[name] for name in model.JOB_TARGET}
    # Insert first and let the partial unique index decide (never check-then-act). A job that
    # finishes between our failed insert and the read is retried once more.
    for _attempt in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                return model.objects.create(queued_at=now, enqueued_at=now, **values), True
        except IntegrityError:
            existing = model.objects.filter(status__in=model.OPEN_STATUSES, **target).first()
            if existing is not None:
                return existing, False
    raise RuntimeError(f"could not open a {model._meta.verbose_name} for {target}")


def claim(model: type[Job], job_id: int) -> Job | None:
    """queued → running for exactly one caller; None when someone else has (or had) it."""
    now = timezone.now()
    claimed = model.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING,
        run_token=uuid.uuid4(),
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        attempts=F("attempts") + 1,
    )
    return model.objects.get(pk=job_id) if claimed else None


def execute(model: type[Job], job_id: int, *, progress_class: Callable | None = None) -> str:
    """Claim and run one job; safe to call twice (the second call finds nothing to claim).

    Returns the final status, "not-claimed" or "lost". `progress_class(job)` lets a
    command draw progress bars (see `run_inline`).
    """
    job = claim(model, job_id)
    if job is None:
        return "not-claimed"
    kind = kind_of(model)
    progress = (progress_class or Progress)(job)
    runner = kind.runners.get(kind.runner_key(job))
    heartbeat = Heartbeat(job, interval=settings.CRAWL_HEARTBEAT_SECONDS)
    heartbeat.start()
    try:
        if runner is None:
            raise RuntimeError(f"no runner is registered for {kind.runner_key(job)!r} jobs")
        runner(job, progress)
    except JobLost:
        log.warning("%s %s was handed to another worker; this run stops", model.__name__, job_id)
        return "lost"
    except Exception as exc:  # the job row records the failure; the worker stays up
        log.exception("%s %s failed", model.__name__, job_id)
        progress.error(f"{model._meta.verbose_name} failed: {exc}"[:1000])
        status = _finish(job, progress, Job.Status.FAILED)
        if status == Job.Status.FAILED:
            _gave_up(kind, job.pk)
        return status
    finally:
        heartbeat.stop()
    return _finish(job, progress, Job.Status.DONE)


def _held(job: Job):
    """The job's row, as long as this run still holds it."""
    return type(job).objects.filter(pk=job.pk, run_token=job.run_token, status=Job.Status.RUNNING)


def _finish(job: Job, progress: Progress, status: str) -> str:
    updated = _held(job).update(
        status=status, finished_at=timezone.now(), **progress.counts(), summary=progress.summary
    )
    return status if updated else "lost"


class Heartbeat(threading.Thread):
    """Beats for a running job even while its runner is busy between progress calls (a long
    fetch, a Retry-After wait), so the sweeper only recovers jobs whose worker is gone."""

    def __init__(self, job: Job, *, interval: float):
        super().__init__(name=f"{job._meta.model_name}-{job.pk}-heartbeat", daemon=True)
        self.job = job
        self.interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                _held(self.job).update(heartbeat_at=timezone.now())
        except Exception:  # a heartbeat must never take the worker down
            log.exception("heartbeat of %s %s stopped", self.job._meta.model_name, self.job.pk)
        finally:
            connection.close()  # this thread's own connection

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=self.interval + 5)


class Progress:
    """Counts pages, records and errors of a running job and persists them, throttled; each
    write is also a heartbeat."""

    def __init__(self, job: Job, *, interval: float = PROGRESS_INTERVAL):
        self.job = job
        self.pages = job.pages
        self.records = job.records
        self.errors = job.errors
        self.error_log = list(job.error_log or [])
        self.summary: dict = dict(job.summary or {})
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
            self.error_log.append(
                {"at": timezone.now().isoformat(), "message": str(message)[:1000]}
            )
        self.maybe_flush()

    def counts(self) -> dict:
        return {
            "pages": self.pages,
            "records": self.records,
            "errors": self.errors,
            "error_log": self.error_log,
        }

    def maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Write counts and the heartbeat; raises JobLost if this run lost the job."""
        self._last_flush = time.monotonic()
        updated = _held(self.job).update(heartbeat_at=timezone.now(), **self.counts())
        if not updated and self.job.run_token is not None:
            raise JobLost(self.job.pk)

    def close(self) -> None:
        """Release what the progress display holds (terminal bars); nothing here."""


# --- recovering -----------------------------------------------------------------------------------


def sweep_jobs(*, now=None) -> dict[str, dict]:
    """Sweep every registered job kind; {model label: its counts}."""
    return {label: _sweep_kind(kind, now or timezone.now()) for label, kind in KINDS.items()}


def sweep(model: type[Job], *, now=None) -> dict:
    """Resend queued jobs whose message was lost; re-queue (or fail) silent running ones."""
    return _sweep_kind(kind_of(model), now or timezone.now())


def _sweep_kind(kind: JobKind, now) -> dict:
    resent = _resend_lost(kind, now)
    requeued = failed = 0
    stale_after = timedelta(minutes=settings.CRAWL_HEARTBEAT_TIMEOUT_MINUTES)
    for job in kind.model.objects.filter(
        status=Job.Status.RUNNING, heartbeat_at__lt=now - stale_after
    ):
        outcome = _recover_silent(kind, job, now)
        requeued += outcome == "requeued"
        failed += outcome == "failed"
    return {"resent": resent, "requeued": requeued, "failed": failed}


def _resend_lost(kind: JobKind, now) -> int:
    resend_after = timedelta(minutes=settings.CRAWL_RESEND_AFTER_MINUTES)
    lost = kind.model.objects.filter(status=Job.Status.QUEUED, enqueued_at__lt=now - resend_after)
    resent = 0
    for job_id in lost.values_list("pk", flat=True):
        # Conditional, so two sweepers don't both resend (a duplicate would be harmless anyway).
        if lost.filter(pk=job_id).update(enqueued_at=now):
            kind.enqueue(job_id)
            resent += 1
    return resent


def _recover_silent(kind: JobKind, job: Job, now) -> str:
    note = {
        "at": now.isoformat(),
        "message": f"worker went silent (no heartbeat since {job.heartbeat_at.isoformat()})",
    }
    noted = {
        "error_log": (job.error_log or [])[: MAX_ERROR_LOG - 1] + [note],
        "errors": F("errors") + 1,
    }
    if job.attempts < settings.CRAWL_MAX_ATTEMPTS:
        if _held(job).update(status=Job.Status.QUEUED, run_token=None, enqueued_at=now, **noted):
            kind.enqueue(job.pk)
            return "requeued"
    elif _held(job).update(status=Job.Status.FAILED, finished_at=now, **noted):
        _gave_up(kind, job.pk)
        return "failed"
    return ""


def _gave_up(kind: JobKind, job_id: int) -> None:
    """The kind's `on_give_up` for a job just marked failed; its own failure is logged only
    (the job is failed either way, and the sweeper must go on with the other jobs)."""
    if kind.on_give_up is None:
        return
    try:
        kind.on_give_up(kind.model.objects.get(pk=job_id))
    except Exception:
        log.exception("on_give_up of %s %s failed", kind.model.__name__, job_id)


def run_inline(
    model: type[Job], job_id: int, *, progress_class: Callable[[Job], Progress] = Progress
) -> str:
    """Run a job in this process (a management command), then close what its progress opened
    (terminal bars); returns what `execute` returns."""
    opened: list[Progress] = []

    def make(job: Job) -> Progress:
        opened.append(progress_class(job))
        return opened[-1]

    try:
        return execute(model, job_id, progress_class=make)
    finally:
        for progress in opened:
            progress.close()
