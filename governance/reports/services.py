"""Reports as jobs (issue 16 §3): request one, run it (build → render to a temporary file →
rename), record downloads, and sweep expired files.

A `ReportRun` row is the artifact's record: its parameters, who asked, size, SHA-256, rows, the
integrity chain's head it names, and when it expires. The file is written under REPORTS_DIR as
`.<name>.part` and renamed once complete and hashed, so a half-written file never has a row
pointing at it; `verify_report` looks the digest up later.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import ChainHead, EventBatch
from audit.services.chain import GENESIS
from governance.access.records import record_admin_action
from governance.platform import jobs
from governance.reports import catalog, kinds  # noqa: F401 - kinds fills catalog.BUILDERS
from governance.reports.kinds.params import PERIOD_KEYS
from governance.reports.models import ReportDownload, ReportFormat, ReportKind, ReportRun
from governance.reports.render import EXTENSIONS, WRITERS

log = logging.getLogger(__name__)

HASH_CHUNK = 1024 * 1024
# Kinds whose report is the state as of generation (their builders ignore the period).
SNAPSHOT_KINDS = {ReportKind.ACCESS_INVENTORY}


class ReportRequestError(ValueError):
    """A request the console refuses; `field` names the input at fault (a form or API 400)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def period_from_dates(first: date | None, last: date | None) -> tuple[datetime | None, ...]:
    """The period [first 00:00 UTC, the day after last 00:00 UTC): both days are included, as
    the console's form, the API and `manage.py report --from --to` all mean them."""
    start = datetime.combine(first, time.min, tzinfo=UTC) if first else None
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC) if last else None
    return start, end


def request_key(kind: str, fmt: str, period_start, period_end, params: dict) -> str:
    """The identity of a request: the same kind, format, period and filters make the same key."""
    canonical = json.dumps(
        {
            "kind": kind,
            "format": fmt,
            "from": period_start.isoformat() if period_start else None,
            "to": period_end.isoformat() if period_end else None,
            "params": params,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_request(kind: str, fmt: str, period_start, period_end) -> None:
    if kind not in ReportKind.values:
        raise ReportRequestError("kind", f"unknown report kind {kind!r}")
    if fmt not in ReportFormat.values:
        raise ReportRequestError("format", f"unknown format {fmt!r} (csv, xlsx, json or pdf)")
    if period_start and period_end and period_start >= period_end:
        raise ReportRequestError("period_end", "the period must end after it starts")


def request_report(
    *,
    kind: str,
    format: str,
    period_start: datetime | None,
    period_end: datetime | None,
    params: dict | None = None,
    requester=None,
    schedule=None,
    requested_by: str = "",
    enqueue: bool = True,
    request=None,
) -> ReportRun:
    """Queue a report (or join the open run of the identical request) and record who asked."""
    params = dict(params or {})
    _check_request(kind, format, period_start, period_end)
    for name in sorted(params):
        if name in PERIOD_KEYS or params[name] in (None, ""):
            continue
        if name not in catalog.FILTERS[kind]:
            # Recorded on the file yet not applied, it would be wrong evidence: refuse it.
            takes = ", ".join(sorted(catalog.FILTERS[kind])) or "no filter besides the period"
            raise ReportRequestError(name, f"the {kind} report does not apply {name} ({takes})")
    if kind in SNAPSHOT_KINDS:
        # A snapshot as of now: a period would be recorded but not used, and would keep two
        # identical requests from joining one run.
        period_start = period_end = None
    who = requested_by or (requester.get_username() if requester is not None else "")
    with transaction.atomic():
        run, created = jobs.open_job(
            ReportRun,
            kind=kind,
            format=format,
            period_start=period_start,
            period_end=period_end,
            params=params,
            request_key=request_key(kind, format, period_start, period_end, params),
            requester=requester if getattr(requester, "is_authenticated", False) else None,
            schedule=schedule,
            requested_by=who[:200],
            title=ReportKind(kind).label,
        )
        if created:
            record_admin_action(
                actor=requester,
                action="report_run.requested",
                obj=run,
                after={"kind": kind, "format": format, "params": params, "by": who},
                request=request,
            )
            if enqueue:
                transaction.on_commit(lambda: jobs.enqueue(run))
    return run


# --- running ---------------------------------------------------------------------------------


class _HashingFile:
    """A write-only file that hashes and counts what passes through (no second read)."""

    def __init__(self, raw):
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.raw.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()

    # xlsxwriter and reportlab write through file-like objects; these make ours one.
    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self.raw.closed


def current_chain_head() -> dict:
    """The audit chain's head now, as a report names it ({"seq", "digest"}); before the first
    batch is sealed the chain is empty and its head is the genesis digest at 0."""
    head = ChainHead.objects.filter(pk=1).first()
    return {"seq": head.seq, "digest": head.digest} if head else {"seq": 0, "digest": GENESIS}


def chain_head_on_chain(seq: int | None, digest: str) -> bool:
    """Is (seq, digest) a link of the current chain? The empty chain's head is GENESIS at 0."""
    if seq is None:
        return False
    if seq == 0:
        return digest in (GENESIS, "")
    return EventBatch.objects.filter(seq=seq, digest=digest).exists()


def report_path(run: ReportRun) -> Path:
    return Path(settings.REPORTS_DIR) / run.file_name


def file_name_for(run: ReportRun) -> str:
    # The period's last day, included (its end is the next midnight, exclusive), as the form
    # and the command name it: a report "to 2026-11-30" is named ...-20261130-...
    last = run.period_end - timedelta(microseconds=1) if run.period_end else run.queued_at
    period = last.strftime("%Y%m%d")
    return f"{run.kind}-{period}-{run.pk}.{EXTENSIONS[run.format]}"


def build_params(run: ReportRun) -> dict:
    return {**run.params, "period_start": run.period_start, "period_end": run.period_end}


def run_report(run: ReportRun, progress: jobs.Progress) -> None:
    """The job's runner: build the report, render it to a temporary file, hash it, rename it."""
    report = catalog.BUILDERS[run.kind](build_params(run))
    if report.chain_head is None:
        # The file names the chain head it was made at (its cover, its metadata), so a reader
        # holding only the file knows which head verify_report checks.
        report.chain_head = current_chain_head()
    folder = Path(settings.REPORTS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    name = file_name_for(run)
    partial = folder / f".{name}.part"
    try:
        with open(partial, "wb") as raw:
            out = _HashingFile(raw)
            rows = WRITERS[run.format](report, out, progress.record, requested_by=run.requested_by)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, folder / name)  # atomic: the file appears whole or not at all
    finally:
        partial.unlink(missing_ok=True)
    head = report.chain_head
    now = timezone.now()
    values = {
        "title": report.title[:300],
        "file_name": name,
        "size_bytes": out.size,
        "sha256": out.digest.hexdigest(),
        "row_count": rows,
        "chain_head_seq": head.get("seq"),
        "chain_head_digest": head.get("digest") or "",
        "generated_at": report.generated_at or now,
        "expires_at": now + timedelta(days=settings.REPORTS_KEEP_DAYS),
    }
    held = ReportRun.objects.filter(pk=run.pk, run_token=run.run_token)
    if not held.update(**values):
        (folder / name).unlink(missing_ok=True)
        raise jobs.JobLost(run.pk)
    progress.summary.update({"rows": rows, "bytes": out.size})


# --- downloads and expiry ---------------------------------------------------------------------


@transaction.atomic
def record_download(run: ReportRun, *, user, address: str | None, request=None) -> ReportDownload:
    """Who took the file, and when (auditors ask who saw the evidence)."""
    download = ReportDownload.objects.create(run=run, user=user, address=address or None)
    record_admin_action(
        actor=user,
        action="report_run.downloaded",
        obj=run,
        after={"file": run.file_name, "sha256": run.sha256},
        request=request,
    )
    return download


def sweep_expired_reports(*, now: datetime | None = None) -> int:
    """Delete the files of reports past REPORTS_KEEP_DAYS; returns how many. The row stays, with
    its SHA-256 and chain head: a copy an auditor kept still verifies (`verify_report`)."""
    now = now or timezone.now()
    removed = 0
    expired = ReportRun.objects.filter(expires_at__lt=now).exclude(file_name="")
    for run in expired.only("pk", "file_name"):
        report_path(run).unlink(missing_ok=True)
        removed += ReportRun.objects.filter(pk=run.pk).update(file_name="") > 0
    return removed
