"""End to end with a real Celery worker: an Auditor asks the API for the access inventory, the
worker builds and writes it, the file's digest is the recorded one, the download is recorded,
and `verify_report` accepts the downloaded copy (and refuses it once changed)."""

from __future__ import annotations

import hashlib
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from governance.reports.models import ReportDownload, ReportRun
from tests.ui_factories import small_inventory

WAIT_SECONDS = 60  # a generous bound for a loaded 2-core machine; the test ends when it's done


def _wait_finished(run_id: int) -> ReportRun:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        run = ReportRun.objects.get(pk=run_id)
        if not run.is_open:
            return run
        time.sleep(0.2)
    raise AssertionError(f"report run {run_id} still {run.status} after {WAIT_SECONDS} s")


@pytest.mark.django_db(transaction=True)
def test_a_worker_makes_the_report_the_api_asked_for(celery_worker, auditor, settings, tmp_path):
    settings.REPORTS_DIR = tmp_path / "worker-var" / "reports"  # the worker's VAR_DIR
    small_inventory()
    api = Client()
    api.force_login(auditor)
    response = api.post(
        "/api/v1/reports/",
        {"kind": "access_inventory", "format": "csv", "date_from": "2026-10-01"},
        content_type="application/json",
    )
    assert response.status_code == 202
    run = _wait_finished(response.json()["id"])
    assert run.status == "done", run.error_log
    assert "reports.run_report[" in celery_worker.log()
    assert run.row_count >= 3 and run.chain_head_digest
    copy = tmp_path / "copy.csv"
    download = api.get(f"/api/v1/reports/{run.pk}/download/")
    copy.write_bytes(b"".join(download.streaming_content))
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == run.sha256
    assert "alice" in copy.read_text(encoding="utf-8-sig").lower()
    assert ReportDownload.objects.filter(run=run, user=auditor).count() == 1
    call_command("verify_report", str(copy))
    copy.write_bytes(copy.read_bytes() + b"\r\n")
    with pytest.raises(CommandError) as error:
        call_command("verify_report", str(copy))
    assert error.value.returncode == 1
