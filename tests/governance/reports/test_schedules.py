"""Report schedules: each run covers the previous full week, month or quarter (UTC); beat's tick
requests due runs once however often it runs; a finished run is emailed through an SMTP server
the test starts (attached when small, else linked); Admins manage schedules, recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from governance.access.models import AdminAction
from governance.platform import jobs
from governance.reports import schedules
from governance.reports.models import ReportRun, ReportSchedule

pytestmark = pytest.mark.django_db


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cadence", "now", "start", "end"),
    [
        ("weekly", at(2026, 12, 5, 14), at(2026, 11, 23), at(2026, 11, 30)),  # a Saturday
        ("weekly", at(2026, 11, 30, 0, 0, 1), at(2026, 11, 23), at(2026, 11, 30)),  # a Monday
        ("monthly", at(2026, 12, 5), at(2026, 11, 1), at(2026, 12, 1)),
        ("monthly", at(2026, 1, 1, 0, 5), at(2025, 12, 1), at(2026, 1, 1)),
        ("quarterly", at(2026, 12, 5), at(2026, 7, 1), at(2026, 10, 1)),
        ("quarterly", at(2026, 2, 1), at(2025, 10, 1), at(2026, 1, 1)),
    ],
)
def test_a_run_covers_the_previous_full_period(cadence, now, start, end):
    assert schedules.previous_period(cadence, now) == (start, end)


def test_the_next_run_is_due_when_the_current_period_ends():
    assert schedules.next_run_after("weekly", at(2026, 12, 5, 14)) == at(2026, 12, 7)
    assert schedules.next_run_after("monthly", at(2026, 12, 5)) == at(2027, 1, 1)
    assert schedules.next_run_after("quarterly", at(2026, 12, 5)) == at(2027, 1, 1)


def _schedule(admin_user, **values) -> ReportSchedule:
    fields = {"name": "Monthly campaigns", "kind": "campaign", "format": "csv"}
    return schedules.create_schedule(actor=admin_user, cadence="monthly", **(fields | values))


def test_the_tick_requests_a_due_run_once(admin_user, sample_builder):
    schedule = _schedule(admin_user)
    assert schedules.request_due_runs() == []  # not due before the month ends
    due = schedule.next_run_at
    assert len(schedules.request_due_runs(now=due + timedelta(minutes=1))) == 1
    assert schedules.request_due_runs(now=due + timedelta(minutes=2)) == []
    run = ReportRun.objects.get()
    assert run.schedule == schedule and run.requested_by == "schedule: Monthly campaigns"
    assert run.period_end == due and run.period_start.month == (due - timedelta(days=1)).month
    schedule.refresh_from_db()
    assert schedule.next_run_at > due


def _due_run(admin_user, **values) -> ReportRun:
    schedule = _schedule(admin_user, email_to="grc@example.com, ciso@example.com", **values)
    (run,) = schedules.request_due_runs(now=schedule.next_run_at)
    assert jobs.execute(ReportRun, run.pk) == "done"
    return run


def test_a_finished_scheduled_run_is_emailed_once_with_the_file(
    admin_user, sample_builder, smtp_receiver
):
    run = _due_run(admin_user)
    assert schedules.deliver_run(run.pk) == "sent"
    assert schedules.deliver_run(run.pk) == "nothing to send"  # a second delivery sends nothing
    (mail,) = smtp_receiver.wait_for(1)
    message = mail.message
    assert mail.rcpt_tos == ["grc@example.com", "ciso@example.com"]
    assert "Access inventory" in message["Subject"]
    parts = {part.get_filename(): part for part in message.walk() if part.get_filename()}
    run.refresh_from_db()
    assert list(parts) == [run.file_name]
    assert run.options["email"] == "sent"


def test_a_large_file_is_linked_instead_of_attached(
    admin_user, sample_builder, smtp_receiver, settings
):
    settings.REPORTS_EMAIL_ATTACH_MAX_BYTES = 10
    run = _due_run(admin_user, format="pdf")
    assert schedules.deliver_run(run.pk) == "sent"
    (mail,) = smtp_receiver.wait_for(1)
    assert f"/governance/reports/{run.pk}/" in mail.text and "too large to attach" in mail.text
    assert not [p for p in mail.message.walk() if p.get_filename()]


def test_the_tick_sends_an_email_a_lost_message_left(admin_user, sample_builder, smtp_receiver):
    _due_run(admin_user)
    from governance.reports.tasks import tick_schedules

    tick_schedules()
    assert len(smtp_receiver.wait_for(1)) == 1


def test_an_admin_manages_schedules_and_each_change_is_recorded(admin_client_, auditor):
    response = admin_client_.post(
        reverse("reports:report_schedule_create"),
        {
            "name": "Quarterly evidence",
            "kind": "findings",
            "format": "pdf",
            "cadence": "quarterly",
            "email_to": "grc@example.com; audit@example.com",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    schedule = ReportSchedule.objects.get()
    assert schedule.email_to == "grc@example.com, audit@example.com"
    assert schedule.next_run_at == schedules.next_run_after("quarterly", timezone.now())
    bad = admin_client_.post(
        reverse("reports:report_schedule_update", args=[schedule.pk]),
        {"name": "x", "kind": "findings", "format": "pdf", "cadence": "weekly", "email_to": "nope"},
    )
    assert bad.status_code == 400 and "email_to" in bad.context["form"].errors
    admin_client_.post(
        reverse("reports:report_schedule_update", args=[schedule.pk]),
        {"name": "Weekly evidence", "kind": "findings", "format": "csv", "cadence": "weekly"},
    )
    schedule.refresh_from_db()
    assert (schedule.name, schedule.cadence, schedule.enabled) == (
        "Weekly evidence",
        "weekly",
        False,
    )
    auditor_client = Client()
    auditor_client.force_login(auditor)
    listing = auditor_client.get(reverse("reports:report_schedule_list")).content.decode()
    assert "Weekly evidence" in listing and "Remove" not in listing
    admin_client_.post(reverse("reports:report_schedule_delete", args=[schedule.pk]))
    assert not ReportSchedule.objects.exists()
    assert list(
        AdminAction.objects.filter(object_type="governance.reportschedule")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["report_schedule.created", "report_schedule.updated", "report_schedule.deleted"]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once closed


def test_a_failed_email_is_retried_after_its_backoff_then_sent(
    admin_user, sample_builder, smtp_receiver, settings
):
    run = _due_run(admin_user)
    port, settings.EMAIL_PORT = settings.EMAIL_PORT, _closed_port()  # the mail server is down
    assert schedules.deliver_run(run.pk) == "failed"
    run.refresh_from_db()
    assert run.options["attempts"] == 1 and "attempt 1 of 5" in run.options["why"]
    failed_at = datetime.fromisoformat(run.options["at"])
    settings.EMAIL_PORT = port  # back up
    assert schedules.pending_deliveries(now=failed_at + timedelta(minutes=5)) == []  # backoff
    later = failed_at + timedelta(minutes=16)
    assert schedules.pending_deliveries(now=later) == [run.pk]
    assert schedules.deliver_run(run.pk, now=later) == "sent"
    assert len(smtp_receiver.wait_for(1)) == 1
    run.refresh_from_db()
    assert run.options["email"] == "sent" and run.options["attempts"] == 2


def test_failed_emails_stop_after_five_attempts(admin_user, sample_builder, settings):
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _closed_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    run = _due_run(admin_user)
    now = timezone.now()
    for attempt in range(1, schedules.EMAIL_ATTEMPTS + 1):
        assert schedules.deliver_run(run.pk, now=now) == "failed", attempt
        now += timedelta(days=1)  # past any backoff
    assert schedules.pending_deliveries(now=now) == []
    run.refresh_from_db()
    assert run.options["attempts"] == 5 and "why" not in run.options  # no "retried" promise
    assert run.options["error"]  # the last error stays for an Admin to read


def test_an_email_left_sending_by_a_stopped_worker_is_sent_by_the_tick(
    admin_user, sample_builder, smtp_receiver
):
    run = _due_run(admin_user)
    now = timezone.now()
    claimed = {"email": "sending", "attempts": 1, "at": now.isoformat()}
    ReportRun.objects.filter(pk=run.pk).update(options=claimed)  # a worker claimed it, then died
    assert schedules.deliver_run(run.pk, now=now + timedelta(minutes=1)) == "nothing to send"
    assert schedules.pending_deliveries(now=now + timedelta(minutes=11)) == [run.pk]
    assert schedules.deliver_run(run.pk, now=now + timedelta(minutes=11)) == "sent"
    assert len(smtp_receiver.wait_for(1)) == 1


def test_a_failure_recorded_before_retries_existed_is_not_sent_again(admin_user, sample_builder):
    run = _due_run(admin_user)
    ReportRun.objects.filter(pk=run.pk).update(options={"email": "failed", "error": "refused"})
    assert schedules.pending_deliveries(now=timezone.now() + timedelta(days=30)) == []


def test_the_retry_goes_at_the_tick_15_minutes_later_though_that_tick_reads_its_clock_early(
    admin_user, sample_builder
):
    run = _due_run(admin_user)
    failed_at = timezone.now()
    failed = {"email": "failed", "attempts": 1, "at": failed_at.isoformat(), "error": "x"}
    ReportRun.objects.filter(pk=run.pk).update(options=failed)
    next_tick = failed_at + timedelta(minutes=15) - timedelta(seconds=2)
    assert schedules.pending_deliveries(now=next_tick) == [run.pk]


def test_an_email_whose_file_expired_meanwhile_is_skipped_saying_why(
    admin_user, sample_builder, smtp_receiver
):
    run = _due_run(admin_user)
    ReportRun.objects.filter(pk=run.pk).update(file_name="")  # swept by REPORTS_KEEP_DAYS
    assert schedules.deliver_run(run.pk) == "skipped"
    run.refresh_from_db()
    assert "file has expired" in run.options["why"]
    assert schedules.pending_deliveries(now=timezone.now() + timedelta(days=1)) == []
