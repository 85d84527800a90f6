"""axes' axes_reset_ip_username, recorded as `login.unlocked`."""

from axes.management.commands import axes_reset_ip_username

from governance.management.commands._axes_reset import recorded_reset


class Command(axes_reset_ip_username.Command):
    def handle(self, *args, **options):
        return recorded_reset(
            self,
            axes_reset_ip_username.Command.handle,
            name="axes_reset_ip_username",
            what={"ip_address": options["ip"], "username": options["username"]},
            **options,
        )
