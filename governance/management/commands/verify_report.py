"""`manage.py verify_report FILE`: is this the file the console made, and is the integrity
chain head it names still on the audit chain?

Exit codes: 0 verified; 1 the digest matches no stored report (tampered, or not ours); 2 the
file is ours but the chain head it names is no longer on the current chain."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from governance.reports import services
from governance.reports.models import ReportRun


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(services.HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Command(BaseCommand):
    help = "Check a report file against the console's record and the audit integrity chain."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file", returncode=1)
        digest = file_sha256(path)
        run = ReportRun.objects.filter(sha256=digest).order_by("-pk").first()
        if run is None:
            raise CommandError(
                f"{file}: sha256 {digest} matches no report the console made: the file was "
                "changed after it was made, or it is not from this console",
                returncode=1,
            )
        self.stdout.write(
            f"{file}: sha256 {digest} is report run #{run.pk} ({run.title}, {run.format}, "
            f"generated {run.generated_at:%Y-%m-%d %H:%M:%S} UTC, requested by "
            f"{run.requested_by or 'unknown'})"
        )
        if not services.chain_head_on_chain(run.chain_head_seq, run.chain_head_digest):
            raise CommandError(
                f"the chain head it names (#{run.chain_head_seq} {run.chain_head_digest}) is "
                "not on the current audit chain: the audit log was rewritten since",
                returncode=2,
            )
        self.stdout.write(
            f"chain head #{run.chain_head_seq} {run.chain_head_digest} is on the current chain: OK"
        )
