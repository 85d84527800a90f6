"""`manage.py crawl_registry URL [--full]`: crawl one registry now, inline, with progress bars."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from governance.access.records import acting_from_command
from governance.platform.progress_bars import run_with_bars
from inventory.models import Crawl
from inventory.services.crawls import open_crawl
from inventory.services.registry import clean_base_url, make_queued_crawl_full, registry_for_url


def _describe(exc: ValidationError) -> str:
    """`name: Registry with this Name already exists.`: the field and its messages."""
    if not hasattr(exc, "error_dict"):
        return " ".join(exc.messages)
    return "; ".join(
        f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
    )


class Command(BaseCommand):
    help = "Crawl one MCP registry now, without Celery (adds the registry if it is new)."

    def add_arguments(self, parser):
        parser.add_argument("url", help="registry base URL, e.g. https://registry.example.com")
        parser.add_argument(
            "--full", action="store_true", help="ignore updated_since and re-read every server"
        )

    def handle(self, *args, url, full, **options):
        # A registry this adds is recorded as done by this command and the OS user.
        with acting_from_command("crawl_registry"):
            self._crawl(url, full)

    def _crawl(self, url, full):
        try:  # the form's and the API's rule; an existing registry's URL is fine here (reused)
            base = clean_base_url(url)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        try:  # the registry another admin adds meanwhile for this URL is reused, not an error
            registry, added = registry_for_url(base)
        except ValidationError as exc:  # e.g. the name is taken by a registry with another URL
            raise CommandError(f"cannot add a registry for {base}: {_describe(exc)}") from exc
        self.stdout.write(
            f"{'added' if added else 'using the existing'} registry {registry.name!r} "
            f"(#{registry.pk}) for {base}"
        )
        crawl, created = open_crawl(
            kind=Crawl.Kind.REGISTRY,
            target=base,
            registry=registry,
            options={"full": True} if full else {},
            requested_by="command",
        )
        if crawl.status == Crawl.Status.RUNNING:
            raise CommandError(f"crawl #{crawl.pk} of this registry is already running")
        if not created and full:  # take over the queued crawl with our options
            make_queued_crawl_full(crawl)
        outcome = run_with_bars(
            Crawl, crawl.pk, pages=("pages", "page"), records=("records", "rec")
        )
        if outcome == "not-claimed":
            raise CommandError(f"crawl #{crawl.pk} was claimed by a worker first")
        self._summary(Crawl.objects.get(pk=crawl.pk))

    def _summary(self, crawl: Crawl) -> None:
        s = crawl.summary or {}
        self.stdout.write(
            f"crawl #{crawl.pk} of {crawl.target}: {crawl.status} in {crawl.elapsed or 0} s "
            f"({s.get('mode', '?')}, API {s.get('api_version') or '?'})\n"
            f"  pages {crawl.pages}, records {crawl.records}, errors {crawl.errors}\n"
            f"  versions: {s.get('new_versions', 0)} new, {s.get('changed_versions', 0)} changed, "
            f"{s.get('unchanged_versions', 0)} unchanged; {s.get('problems', 0)} problems; "
            f"{s.get('history_entries', 0)} history entries; {s.get('flags_raised', 0)} flags"
        )
        for entry in crawl.error_log[:10]:
            self.stdout.write(f"  ! {entry['message']}")
        if crawl.status == Crawl.Status.FAILED:
            raise CommandError(f"crawl #{crawl.pk} failed")
