"""Shared by the axes_reset* commands: run axes' stock command and record what it unlocked."""

from django.db import transaction

from governance.access.records import acting_from_command, record_admin_action


def recorded_reset(command, stock_handle, *, name: str, what: dict, **options):
    """Run axes' `handle` and record `login.unlocked` with `what` in the same transaction."""
    with acting_from_command(name), transaction.atomic():
        result = stock_handle(command, **options)
        label = " @ ".join(str(what[k]) for k in ("username", "ip_address") if k in what)
        label = label or "every lockout"
        record_admin_action(
            actor=None,
            action="login.unlocked",
            object_type="login",
            object_id=label[:200],
            object_repr=label,
            before=what,
        )
    return result
