"""`python manage.py fetch_client URL`: fetch and validate one CIMD document inline."""

from django.core.management.base import BaseCommand, CommandError

from inventory import cimd
from inventory.services.cimd import ensure_cimd_client, refresh_client_document, url_problems


class Command(BaseCommand):
    help = "Fetch, validate and store the Client ID Metadata Document at URL (runs inline)."

    def add_arguments(self, parser):
        parser.add_argument("url", help="the client_id URL (https)")

    def handle(self, *args, url, **options):
        shape = [p for p in url_problems(url) if p["severity"] == cimd.ERROR]
        if shape:
            raise CommandError("; ".join(p["message"] for p in shape))
        client = ensure_cimd_client(url)
        self.stdout.write(f"[1/1] fetching {url} ...")
        outcome = refresh_client_document(client)
        self.stdout.write(f"[1/1] {outcome.outcome}"
                          + (f" ({'new version' if outcome.changed else 'unchanged'})"
                             if outcome.version else "")
                          + (f": {outcome.error}" if outcome.error else ""))
        for item in outcome.problems:
            self.stdout.write(f"  {item['severity']}: {item['field'] or '-'}: {item['message']}")
        for flag in outcome.flags:
            self.stdout.write(f"  flag [{flag.severity}] {flag.kind}: {flag.summary}")
        if outcome.next_fetch_at:
            self.stdout.write(f"next fetch due {outcome.next_fetch_at:%Y-%m-%d %H:%M:%S} UTC")
        if outcome.outcome == "failed":
            raise CommandError(f"fetch failed: {outcome.error}")
