"""`manage.py report KIND --from YYYY-MM-DD --to YYYY-MM-DD --format csv|xlsx|json|pdf
[--param k=v ...] [--out FILE]`: make a report now, inline, with a progress bar.

The same code path as the console (a ReportRun row, requested by "command", the file under
REPORTS_DIR with its SHA-256 recorded), so `verify_report` knows the file; --out copies it."""

from __future__ import annotations

import shutil
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from governance.access.records import acting_from_command
from governance.platform.progress_bars import run_with_bars
from governance.reports import services
from governance.reports.models import ReportFormat, ReportKind, ReportRun


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--param {pair!r}: expected key=value")
        params[key.strip()] = value.strip()
    return params


class Command(BaseCommand):
    help = "Make a compliance report file now (the same file the console makes)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=ReportKind.values)
        parser.add_argument("--from", dest="first", help="first day of the period (YYYY-MM-DD)")
        parser.add_argument("--to", dest="last", help="last day of the period, included")
        parser.add_argument("--format", default="csv", choices=ReportFormat.values)
        parser.add_argument(
            "--param", action="append", default=[], help="a filter, key=value (repeatable)"
        )
        parser.add_argument("--out", help="also copy the file here")

    def handle(self, *args, kind, first, last, format, param, out, **options):
        start, end = services.period_from_dates(
            _day(first) if first else None, _day(last) if last else None
        )
        with acting_from_command("report"):
            try:
                run = services.request_report(
                    kind=kind,
                    format=format,
                    period_start=start,
                    period_end=end,
                    params=_params(param),
                    requested_by="command",
                    enqueue=False,
                )
            except services.ReportRequestError as exc:
                raise CommandError(f"{exc.field}: {exc}") from exc
        if run.status == ReportRun.Status.RUNNING:
            raise CommandError(f"the same report is already being made (run #{run.pk})")
        outcome = run_with_bars(ReportRun, run.pk, records=("rows", "row"))
        if outcome == "not-claimed":
            raise CommandError(f"run #{run.pk} was claimed by a worker first")
        run.refresh_from_db()
        if run.status != ReportRun.Status.DONE:
            why = "; ".join(entry["message"] for entry in run.error_log[-3:])
            raise CommandError(f"run #{run.pk}: {why}")
        path = services.report_path(run)
        if out:
            shutil.copyfile(path, out)
        self.stdout.write(
            f"report run #{run.pk}: {run.row_count} rows, {run.size_bytes} bytes\n"
            f"  file    {out or path}\n  sha256  {run.sha256}\n"
            f"  chain   #{run.chain_head_seq} {run.chain_head_digest}"
        )
