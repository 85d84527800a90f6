"""Governance -> Reports: the runs (status, progress, size, SHA-256, who, downloads), a form to
make one, a run's page (live progress by htmx polling, its failure's reason), the download
(recorded), and the schedules (Admins change them).

Auditors and Admins make and download reports; Viewers do not see them (reports gather
evidence across the whole console)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from governance.access.htmx import render_fragment_or_page
from governance.access.roles import ADMIN, AUDITOR, role_required
from governance.reports import services
from governance.reports.forms import ReportRequestForm, ScheduleForm
from governance.reports.models import ReportRun, ReportSchedule
from governance.reports.render import CONTENT_TYPES
from governance.reports.schedules import create_schedule, delete_schedule, update_schedule

PAGE_SIZE = 50


def runs_with_downloads():
    # Meta.ordering is dropped once the query groups (Count): order explicitly.
    return (
        ReportRun.objects.select_related("requester", "schedule")
        .annotate(download_count=Count("downloads"))
        .order_by("-queued_at", "-id")
    )


@role_required(AUDITOR)
def run_list(request):
    """Every report made, newest first (open ones poll while they run)."""
    page = Paginator(runs_with_downloads(), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "any_open": any(run.is_open for run in page)}
    return render_fragment_or_page(
        request, "reports/run_list.html", "reports/_run_table.html", context
    )


@role_required(AUDITOR)
@require_http_methods(["GET", "POST"])
def run_create(request):
    """The form; a valid POST queues the run (or joins the identical open one) and opens it."""
    form = ReportRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        start, end = services.period_from_dates(data["date_from"], data["date_to"])
        try:
            run = services.request_report(
                kind=data["kind"],
                format=data["format"],
                period_start=start,
                period_end=end,
                params=form.params(),
                requester=request.user,
                request=request,
            )
        except services.ReportRequestError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            return redirect("reports:report_run_detail", run.pk)
    status = 400 if form.errors else 200
    return render(request, "reports/run_form.html", {"form": form}, status=status)


@role_required(AUDITOR)
def run_detail(request, pk: int):
    """One run: its progress while open (htmx polls the fragment), then its file's facts."""
    run = get_object_or_404(runs_with_downloads(), pk=pk)
    context = {"run": run, "downloads": run.downloads.select_related("user")[:20]}
    return render_fragment_or_page(
        request, "reports/run_detail.html", "reports/_run_status.html", context
    )


@role_required(AUDITOR)
def run_download(request, pk: int):
    """The file, as an attachment; the download is recorded (who, when, from where)."""
    run = get_object_or_404(ReportRun, pk=pk, status=ReportRun.Status.DONE)
    path = services.report_path(run) if run.file_name else None
    if path is None or not path.is_file():
        raise Http404("This report's file is gone (expired or removed).")
    services.record_download(
        run, user=request.user, address=request.META.get("REMOTE_ADDR"), request=request
    )
    response = FileResponse(
        open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
        as_attachment=True,
        filename=run.file_name,
        content_type=CONTENT_TYPES[run.format],
    )
    response["X-Content-SHA256"] = run.sha256
    return response


@role_required(AUDITOR)
def schedule_list(request):
    schedules = ReportSchedule.objects.annotate(run_count=Count("runs")).order_by("name")
    context = {"schedules": schedules, "email_configured": bool(settings.EMAIL_HOST)}
    return render(request, "reports/schedule_list.html", context)


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def schedule_create(request):
    form = ScheduleForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        schedule = create_schedule(actor=request.user, request=request, **form.values())
        messages.success(
            request,
            f"Schedule “{schedule.name}” added: "
            f"first run {schedule.next_run_at:%Y-%m-%d %H:%M} UTC.",
        )
        return redirect("reports:report_schedule_list")
    status = 400 if form.errors else 200
    return render(request, "reports/schedule_form.html", {"form": form}, status=status)


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def schedule_update(request, pk: int):
    schedule = get_object_or_404(ReportSchedule, pk=pk)
    form = ScheduleForm(request.POST if request.method == "POST" else None, instance=schedule)
    if request.method == "POST" and form.is_valid():
        values = form.values()
        schedule.refresh_from_db()  # the ModelForm changed the instance in memory
        update_schedule(schedule, actor=request.user, request=request, **values)
        messages.success(request, f"Schedule “{schedule.name}” saved.")
        return redirect("reports:report_schedule_list")
    status = 400 if form.errors else 200
    context = {"form": form, "schedule": schedule}
    return render(request, "reports/schedule_form.html", context, status=status)


@role_required(ADMIN)
@require_POST
def schedule_delete(request, pk: int):
    schedule = get_object_or_404(ReportSchedule, pk=pk)
    delete_schedule(schedule, actor=request.user, request=request)
    messages.success(request, f"Schedule “{schedule.name}” removed; its reports stay.")
    return redirect("reports:report_schedule_list")
