"""axes' axes_reset_ip, recorded as `login.unlocked`."""

from axes.management.commands import axes_reset_ip

from governance.management.commands._axes_reset import recorded_reset


class Command(axes_reset_ip.Command):
    def handle(self, *args, **options):
        return recorded_reset(
            self,
            axes_reset_ip.Command.handle,
            name="axes_reset_ip",
            what={"ip_address": ", ".join(options["ip"])},
            **options,
        )
