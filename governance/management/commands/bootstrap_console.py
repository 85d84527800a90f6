"""First-start set-up: role groups, an admin account (password printed once), demo data."""

import secrets

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import BaseCommand, call_command
from django.db import transaction

from governance.roles import ADMIN
from governance.services import (acting_from_command, ensure_role_groups, model_snapshot,
                                 record_admin_action)


class Command(BaseCommand):
    help = "Create role groups; on first start create the admin account and load demo data."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--no-demo", action="store_true", help="Skip the demo data.")

    def handle(self, *args, username, no_demo, **options):
        ensure_role_groups()
        password_file = settings.VAR_DIR / "admin-password.txt"
        if not User.objects.exists():
            password = secrets.token_urlsafe(12)
            with acting_from_command("bootstrap_console"), transaction.atomic():
                user = User.objects.create_superuser(username=username, password=password,
                                                     email="")
                user.groups.add(Group.objects.get(name=ADMIN))
                record_admin_action(actor=None, action="user.created", obj=user,
                                    after=model_snapshot(user), note="first-start admin account")
            password_file.write_text(f"{username}\n{password}\n")
            password_file.chmod(0o600)
            if not no_demo:
                self.stdout.write("Loading demo data (first start)...")
                call_command("seed_demo")
        if password_file.exists():
            user, password = password_file.read_text().split()
            self.stdout.write(self.style.SUCCESS(
                f"Log in at http://127.0.0.1:8000/ as '{user}' with password '{password}' "
                f"(kept in {password_file}; delete that file once you have changed it)."))
        else:
            self.stdout.write("Log in with your admin account "
                              "(reset a password with: python manage.py changepassword NAME).")
