"""`manage.py verify_audit_chain [--since DATE]`: exit 1 and name the first broken link."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from audit.services.chain import verify_chain


def _since(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since {value!r} is not an ISO date or timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Recompute the audit chain's digests from the stored events and report the first break."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            type=_since,
            default=None,
            help="Only batches received at or after this time (ISO 8601).",
        )

    def handle(self, *args, since=None, **options):
        run = verify_chain(since=since, triggered_by="verify_audit_chain")
        summary = f"{run.batches_checked} batches, {run.events_checked} events checked"
        if run.ok:
            self.stdout.write(f"OK: audit chain intact ({summary}).")
            return
        self.stdout.write(f"BROKEN: {run.problem} ({summary}).")
        raise SystemExit(1)
