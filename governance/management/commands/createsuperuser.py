"""Django's createsuperuser, recorded as an admin action (`user.created`, no password)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction

from governance.access.records import acting_from_command, model_snapshot, record_admin_action


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        users = get_user_model()._default_manager.db_manager(options["database"])
        with acting_from_command("createsuperuser"), transaction.atomic(using=options["database"]):
            last = users.order_by("-pk").values_list("pk", flat=True).first() or 0
            result = super().handle(*args, **options)
            # The stock command has no hook for the user it made: it is the one with a higher pk.
            for user in users.filter(pk__gt=last):
                record_admin_action(
                    actor=None, action="user.created", obj=user, after=model_snapshot(user)
                )
        return result
