"""Celery tasks for reports: thin, they take ids (STYLE.md)."""

from celery import shared_task

from governance.platform import jobs
from governance.reports import schedules, services
from governance.reports.models import ReportRun


@shared_task(name="reports.run_report", acks_late=True)
def run_report(run_id: int) -> str:
    """Run one report; a scheduled one is emailed once done. A duplicate delivery does nothing."""
    status = jobs.execute(ReportRun, run_id)
    if status == ReportRun.Status.DONE:
        schedules.deliver_run(run_id)
    return status


@shared_task(name="reports.tick_schedules")
def tick_schedules() -> int:
    """Beat's tick: request due scheduled runs, and send the emails a lost message left."""
    started = schedules.request_due_runs()
    for run_id in schedules.pending_deliveries():
        schedules.deliver_run(run_id)
    return len(started)


@shared_task(name="reports.sweep_expired")
def sweep_expired() -> int:
    """Delete report files and rows past REPORTS_KEEP_DAYS."""
    return services.sweep_expired_reports()
