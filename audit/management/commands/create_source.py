"""`manage.py create_source NAME [--kind gateway|server]`: prints the bearer token once."""

from django.core.management.base import BaseCommand, CommandError

from audit.models import EventSource
from audit.services.sources import create_source
from governance.access.records import acting_from_command


class Command(BaseCommand):
    help = "Register an event source and print its bearer token (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--kind", choices=EventSource.Kind.values, default=EventSource.Kind.GATEWAY
        )
        parser.add_argument("--retention-days", type=int, default=90)

    def handle(self, *args, name, kind, retention_days, **options):
        if EventSource.objects.filter(name=name).exists():
            raise CommandError(f"An event source named {name!r} already exists.")
        with acting_from_command("create_source"):  # the record names the command and OS user
            source, token = create_source(name=name, kind=kind, retention_days=retention_days)
        self.stderr.write(f"Created {source.kind} source {source.name!r}. Its token (shown once):")
        self.stdout.write(token)
