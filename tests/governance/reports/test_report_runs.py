"""Report runs: one open run per identical request, the file written whole with its digest and
chain head recorded, a failed run says why, downloads recorded, expired files swept, and the
`report` / `verify_report` commands (a tampered file fails)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audit.models import EventBatch
from governance.access.models import AdminAction
from governance.platform import jobs
from governance.reports import catalog, services
from governance.reports.models import ReportDownload, ReportKind, ReportRun

pytestmark = pytest.mark.django_db

PERIOD = services.period_from_dates(date(2026, 11, 1), date(2026, 11, 30))


def _request(fmt="csv", **params):
    # "campaign": a period report (the access inventory is a snapshot); the sample builds it.
    return services.request_report(
        kind="campaign",
        format=fmt,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        params=params,
        requested_by="test",
        enqueue=False,
    )


def test_the_period_includes_both_days():
    assert PERIOD[0].isoformat() == "2026-11-01T00:00:00+00:00"
    assert PERIOD[1].isoformat() == "2026-12-01T00:00:00+00:00"


def test_the_access_inventory_is_a_snapshot_so_any_period_joins_one_run(sample_builder):
    first = services.request_report(
        kind="access_inventory", format="csv", period_start=PERIOD[0], period_end=PERIOD[1]
    )
    again = services.request_report(
        kind="access_inventory", format="csv", period_start=None, period_end=None
    )
    assert again.pk == first.pk and first.period_start is None is first.period_end


def test_asking_twice_for_the_same_report_joins_the_open_run(sample_builder):
    first = _request()
    assert _request().pk == first.pk
    assert _request(fmt="pdf").pk != first.pk
    assert _request(tag="okta").pk != first.pk
    assert AdminAction.objects.filter(action="report_run.requested").count() == 3


def test_a_bad_request_names_the_field(sample_builder):
    with pytest.raises(services.ReportRequestError) as error:
        services.request_report(
            kind="access_inventory", format="doc", period_start=None, period_end=None
        )
    assert error.value.field == "format"
    with pytest.raises(services.ReportRequestError) as error:
        services.request_report(
            kind="access_inventory", format="csv", period_start=PERIOD[1], period_end=PERIOD[0]
        )
    assert error.value.field == "period_end"


def test_a_run_writes_the_file_whole_and_records_its_digest_and_chain_head(
    sample_builder, reports_dir
):
    run = _request(fmt="xlsx", tag="okta")
    assert jobs.execute(ReportRun, run.pk) == "done"
    run.refresh_from_db()
    path = reports_dir / run.file_name
    data = path.read_bytes()
    assert run.sha256 == hashlib.sha256(data).hexdigest() and run.size_bytes == len(data)
    assert run.row_count == 30 == run.records
    assert (run.chain_head_seq, run.chain_head_digest) == (42, "ab" * 32)
    assert run.expires_at > timezone.now() + timedelta(days=300)
    assert sample_builder[0]["tag"] == "okta" and sample_builder[0]["period_start"] == PERIOD[0]
    assert [p.name for p in reports_dir.iterdir()] == [run.file_name]  # no .part left


def test_a_failed_run_says_why_and_leaves_no_file(monkeypatch, reports_dir):
    def broken(params):
        raise RuntimeError("the grants table is locked")

    monkeypatch.setitem(catalog.BUILDERS, "campaign", broken)
    run = _request()
    assert jobs.execute(ReportRun, run.pk) == "failed"
    run.refresh_from_db()
    assert "the grants table is locked" in run.error_log[-1]["message"]
    assert not reports_dir.exists() or not any(reports_dir.iterdir())


def test_downloads_are_recorded_with_the_admin_action(sample_builder, django_user_model):
    user = django_user_model.objects.create_user("ana")
    run = _request()
    jobs.execute(ReportRun, run.pk)
    services.record_download(run, user=user, address="10.0.0.7")
    download = ReportDownload.objects.get(run=run)
    assert (download.user, download.address) == (user, "10.0.0.7")
    assert AdminAction.objects.filter(action="report_run.downloaded", actor=user).exists()


def test_expired_reports_lose_their_file_but_keep_their_record(sample_builder, reports_dir):
    run = _request()
    jobs.execute(ReportRun, run.pk)
    run.refresh_from_db()
    kept = _request(fmt="json")
    jobs.execute(ReportRun, kept.pk)
    ReportRun.objects.filter(pk=run.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.sweep_expired_reports() == 1
    assert not (reports_dir / run.file_name).exists()
    assert (reports_dir / ReportRun.objects.get(pk=kept.pk).file_name).exists()
    # The record stays, digest and all: a copy an auditor kept still verifies.
    expired = ReportRun.objects.get(pk=run.pk)
    assert (expired.file_name, expired.sha256) == ("", run.sha256)
    assert services.sweep_expired_reports() == 0


def test_the_report_command_makes_the_same_file_and_verify_report_accepts_it(
    sample_builder, tmp_path, capsys
):
    out = tmp_path / "inventory.pdf"
    call_command(
        "report", "campaign", "--from", "2026-11-01", "--to", "2026-11-30",
        "--format", "pdf", "--param", "tag=okta", "--out", str(out),
    )  # fmt: skip
    run = ReportRun.objects.get()
    assert run.requested_by == "command" and run.params == {"tag": "okta"}
    assert run.period_end == PERIOD[1] and out.read_bytes()[:5] == b"%PDF-"
    # The sample names chain head #42: make it a link of the current chain.
    EventBatch.objects.create(
        source=_source(), received_at=timezone.now(), event_count=0, content_hash="",
        seq=42, digest="ab" * 32,
    )  # fmt: skip
    capsys.readouterr()
    call_command("verify_report", str(out))
    assert "is on the current chain: OK" in capsys.readouterr().out


def test_verify_report_fails_a_tampered_file_and_a_rewritten_chain(sample_builder, tmp_path):
    out = tmp_path / "inventory.csv"
    call_command(
        "report", "access_inventory", "--from", "2026-11-01", "--to", "2026-11-30",
        "--out", str(out),
    )  # fmt: skip
    with pytest.raises(CommandError) as error:  # chain head #42 is on no chain here
        call_command("verify_report", str(out))
    assert error.value.returncode == 2 and "not on the current audit chain" in str(error.value)
    out.write_bytes(out.read_bytes().replace(b"user9@", b"user8@"))
    with pytest.raises(CommandError) as error:
        call_command("verify_report", str(out))
    assert error.value.returncode == 1 and "matches no report" in str(error.value)


def test_the_report_command_names_a_bad_argument(sample_builder):
    with pytest.raises(CommandError, match="not a date"):
        call_command("report", "access_inventory", "--from", "2026-13-01")
    with pytest.raises(CommandError, match="key=value"):
        call_command("report", "access_inventory", "--param", "idp")


def _source():
    from audit.models import EventSource

    return EventSource.objects.create(name="bench")


def test_every_report_kind_the_console_offers_has_its_builder():
    assert set(catalog.BUILDERS) == set(ReportKind.values)


def test_a_reports_file_is_named_for_the_last_day_its_period_includes():
    start, end = services.period_from_dates(date(2026, 11, 1), date(2026, 11, 30))
    run = ReportRun(pk=7, kind="findings", format="pdf", period_start=start, period_end=end)

    assert services.file_name_for(run) == "findings-20261130-7.pdf"


def test_a_filter_a_report_does_not_apply_is_refused_not_recorded(sample_builder):
    # An IdP filter on the revocations report would be printed on the file but not applied.
    with pytest.raises(services.ReportRequestError) as refused:
        services.request_report(
            kind="revocations",
            format="csv",
            period_start=timezone.now() - timedelta(days=7),
            period_end=timezone.now(),
            params={"idp": 1},
        )
    assert refused.value.field == "idp"
    assert not ReportRun.objects.exists()


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("activity_evidence", {"server": "crm"}, "server"),  # takes no filter at all
        ("findings", {"status": "open"}, "status"),  # the report takes every status itself
        ("findings", {"severit": "high"}, "severit"),  # a typo is not silently dropped
        ("access_inventory", {"scopes": "crm:*"}, "scopes"),  # the grant list's is `scope`
        ("inventory_risk", {"idp": 1}, "idp"),
        ("revocations", {"sort": "-finished_at"}, "sort"),  # its table sorts by queue time
    ],
)
def test_any_filter_a_kind_does_not_apply_is_refused_naming_it(kind, params, field):
    with pytest.raises(services.ReportRequestError) as refused:
        services.request_report(
            kind=kind, format="csv", period_start=None, period_end=None, params=params
        )
    assert refused.value.field == field and f"does not apply {field}" in str(refused.value)
    assert not ReportRun.objects.exists()


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("findings", {"severity": "high", "q": "crm"}),  # the findings list's own filters
        ("access_inventory", {"scope": "crm:*", "unused_days": "30", "idp": ""}),
        ("revocations", {"status": "done"}),
        ("inventory_risk", {"long_running_hours": "48"}),
    ],
)
def test_the_filters_a_kind_applies_are_accepted(kind, params):
    run = services.request_report(
        kind=kind, format="csv", period_start=None, period_end=None, params=params, enqueue=False
    )
    assert run.params == params


def test_the_report_command_refuses_a_filter_the_kind_does_not_apply(sample_builder):
    with pytest.raises(CommandError, match="severit: the findings report does not apply"):
        call_command("report", "findings", "--param", "severit=high")
