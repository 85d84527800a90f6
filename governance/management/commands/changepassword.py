"""Django's changepassword, recorded as an admin action (`user.password_changed`, no hash)."""

import getpass

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import changepassword
from django.db import transaction

from governance.access.records import acting_from_command, record_admin_action


class Command(changepassword.Command):
    def handle(self, *args, **options):
        model = get_user_model()
        users = model._default_manager.using(options["database"])
        lookup = {model.USERNAME_FIELD: options["username"] or getpass.getuser()}
        with acting_from_command("changepassword"), transaction.atomic(using=options["database"]):
            old = users.filter(**lookup).values_list("password", flat=True).first()
            result = super().handle(*args, **options)  # CommandError when there is no such user
            user = users.get(**lookup)
            record_admin_action(
                actor=None,
                action="user.password_changed",
                obj=user,
                before={"password": old},
                after={"password": user.password},
            )
        return result
