"""axes' axes_reset (every lockout), recorded as `login.unlocked`."""

from axes.management.commands import axes_reset

from governance.management.commands._axes_reset import recorded_reset


class Command(axes_reset.Command):
    def handle(self, *args, **options):
        return recorded_reset(
            self, axes_reset.Command.handle, name="axes_reset", what={"all": True}, **options
        )
