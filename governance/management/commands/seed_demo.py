"""Load the deterministic demo deployment (safe to run again: it changes nothing)."""

from django.core.management import BaseCommand, CommandError

from governance.demo import seed_demo


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
        seeded = seed_demo(seed=seed, scale=scale)
        summary = seeded.inventory
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data: {summary.identities} identities, {summary.clients} clients, "
                f"{summary.servers} servers, {summary.grants} grants, {summary.tasks} tasks "
                f"({summary.new_tasks} new), {seeded.new_events} new audit events."
            )
        )
