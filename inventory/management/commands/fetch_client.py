"""`manage.py fetch_client URL` (or `--all-due`): fetch CIMD documents now, inline, as a crawl
job (so it shows in the crawl history), with a progress bar and the outcome."""

from django.core.management.base import BaseCommand, CommandError

from governance.platform.progress_bars import run_with_bars
from inventory import cimd_checks
from inventory.models import ClientDocumentState, Crawl, Flag
from inventory.services.cimd import ensure_cimd_client, url_problems
from inventory.services.crawls import CIMD_SWEEP_TARGET, open_crawl


class Command(BaseCommand):
    help = "Fetch, validate and store a Client ID Metadata Document now (no Celery needed)."

    def add_arguments(self, parser):
        parser.add_argument("url", nargs="?", help="the client_id URL (https)")
        parser.add_argument(
            "--all-due",
            action="store_true",
            help="instead of one URL, sweep every document that is due",
        )

    def handle(self, *args, url=None, all_due=False, **options):
        if bool(url) == bool(all_due):
            raise CommandError("give a client_id URL or --all-due (not both)")
        if url:
            shape = [p for p in url_problems(url) if p["severity"] == cimd_checks.ERROR]
            if shape:
                raise CommandError("; ".join(p["message"] for p in shape))
            ensure_cimd_client(url)
        target = url or CIMD_SWEEP_TARGET
        crawl, _ = open_crawl(kind=Crawl.Kind.CIMD, target=target, requested_by="command")
        if crawl.status == Crawl.Status.RUNNING:
            raise CommandError(f"crawl #{crawl.pk} of {target} is already running")
        self.stdout.write(f"crawl #{crawl.pk}: fetching {target} ...")
        outcome = run_with_bars(Crawl, crawl.pk, records=("documents", "doc"))
        if outcome == "not-claimed":
            raise CommandError(f"crawl #{crawl.pk} was claimed by a worker first")
        crawl = Crawl.objects.get(pk=crawl.pk)
        self.stdout.write(
            f"crawl #{crawl.pk}: {crawl.status}; records {crawl.records}, "
            f"errors {crawl.errors}; {crawl.summary}"
        )
        if url:
            self._describe(url)
        for entry in crawl.error_log[:10]:
            self.stdout.write(f"  ! {entry['message']}")
        if crawl.status == Crawl.Status.FAILED or (url and crawl.errors):
            raise CommandError(f"fetch failed: {(crawl.error_log or [{}])[-1].get('message', '')}")

    def _describe(self, url: str) -> None:
        state = ClientDocumentState.objects.select_related("current", "client").get(
            client__client_id=url
        )
        self.stdout.write(
            f"{url}: {state.outcome}"
            + (f" ({state.last_error_reason}: {state.last_error})" if state.last_error else "")
        )
        for item in state.current.problems if state.current else []:
            self.stdout.write(f"  {item['severity']}: {item['field'] or '-'}: {item['message']}")
        for flag in Flag.objects.open().filter(
            object_type="inventory.client", object_id=str(state.client_id)
        ):
            self.stdout.write(f"  flag [{flag.severity}] {flag.kind}: {flag.summary}")
        if state.next_fetch_at:
            self.stdout.write(f"next fetch due {state.next_fetch_at:%Y-%m-%d %H:%M:%S} UTC")
