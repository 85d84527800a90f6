"""First-start set-up: role groups, an admin account (password printed once), demo data."""

import os
import secrets

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import BaseCommand, call_command
from django.db import transaction

from governance.access.records import acting_from_command, model_snapshot, record_admin_action
from governance.access.roles import ADMIN
from governance.access.services import ensure_role_groups


class Command(BaseCommand):
    help = "Create role groups; on first start create the admin account and load demo data."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--no-demo", action="store_true", help="Skip the demo data.")
        parser.add_argument(
            "--url",
            default=None,
            help="Where the console is served, for the log-in hint "
            "(default: http://BIND/, BIND from the environment).",
        )

    def handle(self, *args, username, no_demo, url, **options):
        ensure_role_groups()
        url = url or f"http://{os.environ.get('BIND', '127.0.0.1:8000')}/"
        password_file = settings.VAR_DIR / "admin-password.txt"
        if not User.objects.exists():
            password = secrets.token_urlsafe(12)
            with acting_from_command("bootstrap_console"), transaction.atomic():
                user = User.objects.create_superuser(username=username, password=password, email="")
                user.groups.add(Group.objects.get(name=ADMIN))
                record_admin_action(
                    actor=None,
                    action="user.created",
                    obj=user,
                    after=model_snapshot(user),
                    note="first-start admin account",
                )
            password_file.write_text(f"{username}\n{password}\n")
            password_file.chmod(0o600)
            if not no_demo:
                self.stdout.write("Loading demo data (first start)...")
                call_command("seed_demo")
            # The only time the password reaches a terminal: later starts name the file only,
            # so it does not sit in every log of every start.
            self.stdout.write(
                self.style.SUCCESS(
                    f"Log in at {url} as '{username}' with password '{password}' "
                    f"(also kept in {password_file}; delete that file once you have changed it)."
                )
            )
        elif password_file.exists():
            self.stdout.write(
                self.style.SUCCESS(
                    f"Log in at {url}: the first-start admin password is in {password_file} "
                    f"(delete that file once you have changed it)."
                )
            )
        else:
            self.stdout.write(
                f"Log in at {url} with your admin account "
                "(reset a password with: python manage.py changepassword NAME)."
            )
