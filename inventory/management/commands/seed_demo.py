"""Load the deterministic demo deployment (safe to run again: it changes nothing)."""

from django.core.management import BaseCommand, CommandError

from audit.demo import seed_demo_events
from inventory.services.demo import build_demo, demo_anchor


class Command(BaseCommand):
    help = "Build deterministic demo data through the services (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42, help="RNG seed (default 42).")
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="Multiplier on the number of identities, grants and tasks.",
        )

    def handle(self, *args, seed, scale, **options):
        if not 0 < scale <= 100:
            raise CommandError("--scale must be greater than 0 and at most 100")
        summary = build_demo(seed=seed, scale=scale)
        # A week of tool calls through the real ingest path, so the explorer and charts have data.
        new_events = seed_demo_events(seed=seed, scale=scale, anchor=demo_anchor())
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data: {summary.identities} identities, {summary.clients} clients, "
                f"{summary.servers} servers, {summary.grants} grants, {summary.tasks} tasks "
                f"({summary.new_tasks} new), {new_events} new audit events."
            )
        )
