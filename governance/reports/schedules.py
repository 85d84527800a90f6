"""Report schedules (issue 16 §4): weekly, monthly or quarterly, each run covering the previous
full period (UTC); beat's tick requests the due ones, and a finished run is emailed to the
schedule's addresses (attached when small, else a link to the console) and kept in the console.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from governance.access.records import model_snapshot, record_admin_action
from governance.reports import services
from governance.reports.models import ReportRun, ReportSchedule

log = logging.getLogger(__name__)

Cadence = ReportSchedule.Cadence


class ReportFileGone(Exception):
    """The run's file was swept (REPORTS_KEEP_DAYS) before its email could go."""


def _month_start(year: int, month: int) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def period_containing(cadence: str, moment: datetime) -> tuple[datetime, datetime]:
    """The [start, end) period of `cadence` that holds `moment` (weeks start on Monday)."""
    moment = moment.astimezone(UTC)
    if cadence == Cadence.WEEKLY:
        start = datetime(moment.year, moment.month, moment.day, tzinfo=UTC) - timedelta(
            days=moment.weekday()
        )
        return start, start + timedelta(days=7)
    months = 3 if cadence == Cadence.QUARTERLY else 1
    first_month = moment.month - (moment.month - 1) % months
    start = _month_start(moment.year, first_month)
    return start, _month_start(moment.year, first_month + months)


def previous_period(cadence: str, now: datetime) -> tuple[datetime, datetime]:
    """The last full period before `now`: what a run at `now` reports on."""
    start, _end = period_containing(cadence, now)
    return period_containing(cadence, start - timedelta(seconds=1))


def next_run_after(cadence: str, now: datetime) -> datetime:
    """When the period holding `now` is complete (the next run is due then)."""
    return period_containing(cadence, now)[1]


# --- CRUD (Admin) ----------------------------------------------------------------------------

FIELDS = ("name", "kind", "format", "cadence", "params", "email_to", "enabled")


def parse_addresses(email_to: str) -> list[str]:
    return [part.strip() for part in email_to.replace(";", ",").split(",") if part.strip()]


@transaction.atomic
def create_schedule(*, actor, request=None, **values) -> ReportSchedule:
    """A new schedule; its first run is due when the current period ends."""
    now = timezone.now()
    schedule = ReportSchedule.objects.create(
        **{k: values[k] for k in FIELDS if k in values},
        next_run_at=next_run_after(values["cadence"], now),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    record_admin_action(
        actor=actor,
        action="report_schedule.created",
        obj=schedule,
        after=model_snapshot(schedule),
        request=request,
    )
    return schedule


@transaction.atomic
def update_schedule(schedule: ReportSchedule, *, actor, request=None, **values) -> ReportSchedule:
    """Change a schedule; a new cadence moves its next run to the end of the current period."""
    schedule = ReportSchedule.objects.select_for_update().get(pk=schedule.pk)
    before = model_snapshot(schedule)
    cadence_changed = values.get("cadence", schedule.cadence) != schedule.cadence
    for key in FIELDS:
        if key in values:
            setattr(schedule, key, values[key])
    if cadence_changed:
        schedule.next_run_at = next_run_after(schedule.cadence, timezone.now())
    schedule.save()
    record_admin_action(
        actor=actor,
        action="report_schedule.updated",
        obj=schedule,
        before=before,
        after=model_snapshot(schedule),
        request=request,
    )
    return schedule


@transaction.atomic
def delete_schedule(schedule: ReportSchedule, *, actor, request=None) -> None:
    """Remove a schedule; its past runs stay (their `schedule` becomes empty)."""
    record_admin_action(
        actor=actor,
        action="report_schedule.deleted",
        obj=schedule,
        before=model_snapshot(schedule),
        request=request,
    )
    schedule.delete()


# --- beat's tick -----------------------------------------------------------------------------


def request_due_runs(*, now: datetime | None = None) -> list[ReportRun]:
    """Request a run of every enabled schedule whose next run is due; safe to run twice (each
    schedule is claimed by moving its next_run_at with a conditional UPDATE)."""
    now = now or timezone.now()
    started = []
    for schedule in ReportSchedule.objects.filter(enabled=True, next_run_at__lte=now):
        claimed = ReportSchedule.objects.filter(
            pk=schedule.pk, next_run_at=schedule.next_run_at
        ).update(next_run_at=next_run_after(schedule.cadence, now), last_run_at=now)
        if not claimed:
            continue
        start, end = previous_period(schedule.cadence, now)
        try:
            run = services.request_report(
                kind=schedule.kind,
                format=schedule.format,
                period_start=start,
                period_end=end,
                params=schedule.params,
                schedule=schedule,
                requested_by=f"schedule: {schedule.name}"[:200],
            )
        except services.ReportRequestError as exc:
            log.warning("report schedule %s cannot run: %s", schedule.pk, exc)
            continue
        if parse_addresses(schedule.email_to):
            ReportRun.objects.filter(pk=run.pk).exclude(options__has_key="email").update(
                options={"email": "pending"}
            )
        started.append(run)
    return started


# An email's life on its run (options["email"]): pending → sending → sent | failed | skipped.
# "sending" older than this is a worker that died mid-send: the tick sends again (at least once;
# a crash after the server accepted the message means the addresses get it twice).
EMAIL_SENDING_STALE = timedelta(minutes=10)
EMAIL_ATTEMPTS = 5  # then the run keeps "failed" with its last error, for an Admin to see


# A tick's clock is read a little later each time than the one before it: without this slack a
# retry due "15 minutes after" a failure would wait for the tick after next.
TICK_SLACK = timedelta(minutes=1)


def _retry_after(attempts: int) -> timedelta:
    """Backoff between failed sends: 15, 30, 60, 120 minutes (the tick runs every 15)."""
    return timedelta(minutes=15 * 2 ** max(attempts - 1, 0)) - TICK_SLACK


def _email_due(options: dict, now: datetime) -> bool:
    state, attempts = options.get("email"), options.get("attempts")
    if state == "pending":
        return True
    last = options.get("at")
    last = datetime.fromisoformat(last) if last else None
    if state == "sending":
        return last is None or last <= now - EMAIL_SENDING_STALE
    if state == "failed":
        # A failure without a count predates retries: it was final when it was recorded, and
        # sending it now (months later, perhaps) would surprise its addresses.
        return (
            attempts is not None
            and attempts < EMAIL_ATTEMPTS
            and (last is None or last <= now - _retry_after(attempts))
        )
    return False


def pending_deliveries(*, now: datetime | None = None) -> list[int]:
    """Done runs whose email is due: not sent yet (a lost message), left "sending" by a worker
    that stopped, or failed and past its backoff."""
    now = now or timezone.now()
    runs = ReportRun.objects.filter(
        status=ReportRun.Status.DONE, options__email__in=("pending", "sending", "failed")
    ).order_by("pk")
    return [pk for pk, options in runs.values_list("pk", "options") if _email_due(options, now)]


def _claim(run_id: int, now: datetime) -> tuple[ReportRun, int] | None:
    """Mark the run's email "sending" if it is due; None if another worker has it or it is not
    due. The row lock makes two ticks (or a tick and the run's own task) send once."""
    with transaction.atomic():
        run = (
            ReportRun.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("schedule")
            .filter(pk=run_id, status=ReportRun.Status.DONE)
            .first()
        )
        if run is None or not _email_due(run.options or {}, now):
            return None
        attempts = (run.options or {}).get("attempts", 0) + 1
        run.options = {"email": "sending", "attempts": attempts, "at": now.isoformat()}
        run.save(update_fields=["options"])
        return run, attempts


def deliver_run(run_id: int, *, now: datetime | None = None) -> str:
    """Email a finished scheduled run to its schedule's addresses; returns what happened."""
    claimed = _claim(run_id, now or timezone.now())
    if claimed is None:
        return "nothing to send"
    run, attempts = claimed
    addresses = parse_addresses(run.schedule.email_to) if run.schedule else []
    if not addresses or not settings.EMAIL_HOST:
        outcome = {
            "email": "skipped",
            "why": "no addresses" if not addresses else "EMAIL_HOST unset",
        }
    else:
        try:
            _send(run, addresses)
            outcome = {"email": "sent", "to": addresses}
        except ReportFileGone as exc:
            outcome = {"email": "skipped", "why": str(exc)}
        except Exception as exc:  # noqa: BLE001 - an SMTP failure is recorded on the run
            log.warning("emailing report run %s failed (attempt %s): %s", run_id, attempts, exc)
            outcome = {"email": "failed", "error": str(exc)[:500]}
            if attempts < EMAIL_ATTEMPTS:
                outcome["why"] = f"attempt {attempts} of {EMAIL_ATTEMPTS}, retried by the tick"
    outcome |= {"attempts": attempts, "at": timezone.now().isoformat()}
    ReportRun.objects.filter(pk=run_id).update(options=outcome)
    return outcome["email"]


def _send(run: ReportRun, addresses: list[str]) -> None:
    link = settings.CONSOLE_BASE_URL.rstrip("/") + reverse(
        "reports:report_run_detail", args=[run.pk]
    )
    period = (
        f"{run.period_start:%Y-%m-%d} to {run.period_last_day:%Y-%m-%d}" if run.period_end else ""
    )
    body = (
        f"{run.title} ({run.get_format_display()}), {period}.\n\n"
        f"Rows: {run.row_count}\nSHA-256: {run.sha256}\n"
        f"Chain head: #{run.chain_head_seq} {run.chain_head_digest}\n\n"
        f"In the console: {link}\n"
    )
    if not run.file_name:  # expired and swept since: the run's page still says what it was
        raise ReportFileGone(
            f"the report's file has expired (kept {settings.REPORTS_KEEP_DAYS} days)"
        )
    message = EmailMessage(
        subject=f"[MCP Governance] {run.title} {period}".strip(),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=addresses,
    )
    path = services.report_path(run)
    if run.size_bytes is not None and run.size_bytes <= settings.REPORTS_EMAIL_ATTACH_MAX_BYTES:
        message.attach_file(str(path))
    else:
        message.body += "\nThe file is too large to attach: download it from the link above.\n"
    message.send(fail_silently=False)
