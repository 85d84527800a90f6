"""The report pages and API: an Auditor makes a report from the form (no free-text parameters),
follows it, downloads it (recorded); bad input names the field; the API does the same."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.platform import jobs
from governance.reports.forms import ScheduleForm
from governance.reports.models import ReportDownload, ReportRun
from governance.reviews.models import Campaign

pytestmark = pytest.mark.django_db


def _make(auditor_client, **fields):
    data = {"kind": "access_inventory", "date_from": "2026-11-01", "date_to": "2026-11-30"}
    data.update(fields)
    return auditor_client.post(reverse("reports:report_run_create"), data)


def test_an_auditor_makes_a_report_follows_it_and_downloads_it(
    auditor_client, auditor, sample_builder, django_capture_on_commit_callbacks
):
    form = auditor_client.get(reverse("reports:report_run_create"))
    assert b'name="date_from"' in form.content and b'name="params"' not in form.content
    with django_capture_on_commit_callbacks(execute=True):  # Celery is eager in unit tests
        response = _make(auditor_client, format="csv")
    run = ReportRun.objects.get()
    assert response.status_code == 302 and response.url == f"/governance/reports/{run.pk}/"
    assert run.status == "done" and run.requester == auditor
    page = auditor_client.get(response.url).content.decode()
    assert "Ready." in page and run.sha256 in page and "as of generation" in page
    download = auditor_client.get(reverse("reports:report_run_download", args=[run.pk]))
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == run.sha256
    assert download["Content-Disposition"].startswith("attachment")
    assert ReportDownload.objects.get().user == auditor
    listing = auditor_client.get(reverse("reports:report_run_list")).content.decode()
    assert "Access inventory" in listing and "Download</a> (1)" in listing


def test_the_run_page_polls_while_the_run_is_open_and_shows_why_it_failed(
    auditor_client, sample_builder
):
    _make(auditor_client, format="json")
    run = ReportRun.objects.get()
    fragment = auditor_client.get(
        reverse("reports:report_run_detail", args=[run.pk]), HTTP_HX_REQUEST="true"
    )
    assert b'hx-trigger="every 1s"' in fragment.content and b"<html" not in fragment.content
    sample_builder.clear()
    ReportRun.objects.filter(pk=run.pk).update(
        status="failed", error_log=[{"at": "", "message": "report run failed: disk full"}]
    )
    page = auditor_client.get(reverse("reports:report_run_detail", args=[run.pk]))
    assert b"disk full" in page.content and b"every 1s" not in page.content


def test_bad_input_is_a_form_error_naming_the_field(auditor_client, sample_builder):
    response = _make(auditor_client, format="doc", date_to="2026-10-01")
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"format", "date_to"}
    response = _make(auditor_client, kind="campaign", format="pdf")
    assert response.context["form"].errors == {
        "campaign": ["Choose the campaign this report is about."]
    }
    assert not ReportRun.objects.exists()


def test_the_campaign_report_takes_the_campaign_chosen_in_the_form(
    auditor_client, admin_user, sample_builder
):
    campaign = Campaign.objects.create(
        name="Q4 review", created_by=admin_user, due_at=timezone.now() + timedelta(days=14)
    )
    form = auditor_client.get(reverse("reports:report_run_create")).content.decode()
    assert "Q4 review" in form
    _make(auditor_client, kind="campaign", format="xlsx", campaign=campaign.pk)
    assert ReportRun.objects.get().params == {"campaign_id": campaign.pk}


def test_viewers_do_not_see_reports(viewer_client):
    assert b"/governance/reports/" not in viewer_client.get("/").content
    assert viewer_client.get(reverse("reports:report_run_list")).status_code == 403


def test_the_api_requests_lists_and_downloads_a_report(
    auditor_client, sample_builder, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = auditor_client.post(
            "/api/v1/reports/",
            {"kind": "access_inventory", "format": "pdf", "date_from": "2026-11-01"},
            content_type="application/json",
        )
    assert created.status_code == 202
    run_id = created.json()["id"]
    detail = auditor_client.get(f"/api/v1/reports/{run_id}/").json()
    assert detail["status"] == "done" and len(detail["sha256"]) == 64
    assert detail["chain_head_seq"] == 42
    assert [r["id"] for r in auditor_client.get("/api/v1/reports/").json()["results"]] == [run_id]
    file = auditor_client.get(f"/api/v1/reports/{run_id}/download/")
    assert b"".join(file.streaming_content)[:5] == b"%PDF-"
    assert ReportDownload.objects.count() == 1


def test_the_api_names_the_field_at_fault(auditor_client, sample_builder):
    response = auditor_client.post(
        "/api/v1/reports/", {"kind": "campaign", "format": "csv"}, content_type="application/json"
    )
    assert response.status_code == 400 and "campaign_id" in response.json()
    response = auditor_client.post(
        "/api/v1/reports/",
        {"kind": "findings", "format": "csv", "date_from": "2026-11-02", "date_to": "2026-11-01"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "date_to" in response.json()
    response = auditor_client.post(
        "/api/v1/reports/",
        {"kind": "campaign", "format": "csv", "campaign_id": 999999, "idp": 999999},
        content_type="application/json",
    )
    assert response.status_code == 400 and set(response.json()) == {"campaign_id", "idp"}
    response = auditor_client.post(
        "/api/v1/reports/",
        {"kind": "findings", "format": "csv", "severity": "high"},  # not a field: not dropped
        content_type="application/json",
    )
    assert response.status_code == 400 and "Not a report request field" in str(response.json())
    assert set(response.json()) == {"severity"} and not ReportRun.objects.exists()
    response = auditor_client.post(  # the browsable API's form: its CSRF token comes along
        "/api/v1/reports/", {"kind": "findings", "format": "csv", "csrfmiddlewaretoken": "x"}
    )
    assert response.status_code == 202, response.content


def test_run_jobs_helper_is_the_engine():  # the runner is registered (apps.py)
    assert "" in jobs.kind_of(ReportRun).runners


def test_the_schedule_form_starts_with_a_report_format_and_cadence_chosen(db):
    form = ScheduleForm()
    for name, first in (("kind", "access_inventory"), ("format", "pdf"), ("cadence", "weekly")):
        assert "" not in [value for value, _ in form.fields[name].choices], name
        assert form[name].value() == first
