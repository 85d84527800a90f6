"""Account writes: role assignment, password changes, unlocking a login; each recorded."""

from __future__ import annotations

from axes.utils import reset
from django.contrib.auth.models import Group
from django.db import transaction

from governance.access.records import record_admin_action
from governance.access.roles import ROLE_ORDER


def ensure_role_groups() -> None:
    """Create the Viewer/Auditor/Admin groups (idempotent)."""
    for name in ROLE_ORDER:
        Group.objects.get_or_create(name=name)


class RoleChangeRefused(ValueError):
    """A role change the rules forbid; `message` says why (shown to the admin as the 400)."""

    def __init__(self, message: str):
        super().__init__(f"role: {message}")
        self.message = message


@transaction.atomic
def set_user_role(*, actor, user, role: str | None, request=None) -> None:
    """Give `user` exactly one role (or none), recorded as an admin action.

    An admin cannot change their own role: demoting themselves could leave no admin, and a
    change of one's own privileges should be someone else's decision (RoleChangeRefused)."""
    if role and role not in ROLE_ORDER:
        raise RoleChangeRefused(f"{role!r} is not one of {', '.join(ROLE_ORDER)}")
    if actor is not None and getattr(actor, "pk", None) == user.pk:
        raise RoleChangeRefused("you cannot change your own role")
    ensure_role_groups()
    before = sorted(user.groups.filter(name__in=ROLE_ORDER).values_list("name", flat=True))
    user.groups.remove(*Group.objects.filter(name__in=ROLE_ORDER))
    if role:
        user.groups.add(Group.objects.get(name=role))
    record_admin_action(
        actor=actor,
        action="user.role_changed",
        obj=user,
        before={"roles": before},
        after={"roles": [role] if role else []},
        request=request,
    )


@transaction.atomic
def change_own_password(*, user, new_password: str, request=None) -> None:
    """A signed-in user sets a new (already validated) password; recorded without it."""
    old_hash = user.password
    user.set_password(new_password)
    user.save(update_fields=["password"])
    record_admin_action(
        actor=user,
        action="user.password_changed",
        obj=user,
        before={"password": old_hash},
        after={"password": user.password},
        request=request,
    )


@transaction.atomic
def unlock_login(*, actor, username: str = "", ip_address: str = "", request=None, obj=None) -> int:
    """Forget the failed logins of a username or an address (lifting its lockout). Recorded."""
    if not username and not ip_address:
        raise ValueError("username or ip_address is needed")
    what = {"username": username} if username else {"ip_address": ip_address}
    removed = reset(**({"username": username} if username else {"ip": ip_address}))
    record_admin_action(
        actor=actor,
        action="user.unlocked" if obj is not None else "login.unlocked",
        obj=obj,
        object_type="" if obj else "login",
        object_id="" if obj else (username or ip_address),
        object_repr="" if obj else (username or ip_address),
        before=what,
        after={"failed_attempt_records_removed": removed},
        request=request,
    )
    return removed
