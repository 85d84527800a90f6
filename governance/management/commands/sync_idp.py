"""`manage.py sync_idp NAME [--full]`: sync one IdP connection now, inline, with progress bars."""

from django.core.management.base import BaseCommand, CommandError

from governance.idp.models import IdpConnection, IdpSync
from governance.idp.sync import ConnectionDisabled, start_sync
from governance.platform.progress_bars import run_with_bars


class Command(BaseCommand):
    help = "Sync one IdP connection now (identities, clients, grants), without Celery."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the connection's name (see the IdP connections page)")
        parser.add_argument(
            "--full",
            action="store_true",
            help="ignore incremental state and mark grants the IdP no longer lists as vanished",
        )

    def handle(self, *args, name, full, **options):
        try:
            connection = IdpConnection.objects.get(name=name)
        except IdpConnection.DoesNotExist:
            raise CommandError(f"no IdP connection is named {name!r}") from None
        try:
            sync = start_sync(
                connection=connection, full=full, requested_by="command", enqueue=False
            )
        except ConnectionDisabled as exc:
            raise CommandError(str(exc)) from exc
        if sync.status == IdpSync.Status.RUNNING:
            raise CommandError(f"sync #{sync.pk} of {name} is already running")
        outcome = run_with_bars(IdpSync, sync.pk, records=("records", "rec"))
        if outcome == "not-claimed":
            raise CommandError(f"sync #{sync.pk} was claimed by a worker first")
        self._summary(IdpSync.objects.get(pk=sync.pk))

    def _summary(self, sync: IdpSync) -> None:
        s = sync.summary or {}
        self.stdout.write(
            f"sync #{sync.pk} of {sync.connection.name}: {sync.status} in {sync.elapsed or 0} s\n"
            f"  pages {sync.pages}, records {sync.records}, errors {sync.errors}\n"
            f"  seen {sync.seen}, created {sync.created}, changed {sync.changed}, "
            f"vanished {sync.vanished}, skipped {sync.skipped}"
        )
        for part, why in (s.get("not_supported") or {}).items():
            self.stdout.write(f"  - {part}: not supported ({why})")
        waits = {k: v for k, v in (s.get("waits") or {}).items() if v}
        if waits:
            self.stdout.write(f"  waits: {waits}")
        for entry in sync.error_log[:10]:
            self.stdout.write(f"  ! {entry['message']}")
        if sync.status == IdpSync.Status.FAILED:
            raise CommandError(f"sync #{sync.pk} failed")
