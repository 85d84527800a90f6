"""Placeholder replaced by the demo-data builder."""

from django.core.management import BaseCommand


class Command(BaseCommand):
    help = "Build deterministic demo data through the services."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--scale", type=float, default=1.0)

    def handle(self, *args, **options):
        self.stdout.write("seed_demo: not built yet")
