"""axes' axes_reset_username, recorded as `login.unlocked` per username."""

from axes.management.commands import axes_reset_username

from governance.management.commands._axes_reset import recorded_reset


class Command(axes_reset_username.Command):
    def handle(self, *args, **options):
        return recorded_reset(
            self,
            axes_reset_username.Command.handle,
            name="axes_reset_username",
            what={"username": ", ".join(options["username"])},
            **options,
        )
