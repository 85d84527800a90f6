"""Governance writes: recording admin actions, role assignment."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from governance.models import AdminAction
from governance.roles import ROLE_ORDER


def record_admin_action(
    *,
    actor,
    action: str,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    before: dict | None = None,
    after: dict | None = None,
    request=None,
    note: str = "",
) -> AdminAction:
    """Append one admin-action record. Call inside the same transaction as the change."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AdminAction.objects.create(
        actor=actor if authenticated else None,
        actor_repr=actor.get_username() if authenticated else "system",
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=str(obj)[:500] if obj is not None else "",
        before=before,
        after=after,
        ip_address=request.META.get("REMOTE_ADDR") if request is not None else None,
        note=note,
    )


def ensure_role_groups() -> None:
    """Create the Viewer/Auditor/Admin groups (idempotent)."""
    for name in ROLE_ORDER:
        Group.objects.get_or_create(name=name)


@transaction.atomic
def set_user_role(*, actor, user, role: str | None, request=None) -> None:
    """Give `user` exactly one role (or none), recorded as an admin action."""
    ensure_role_groups()
    before = sorted(user.groups.filter(name__in=ROLE_ORDER).values_list("name", flat=True))
    user.groups.remove(*Group.objects.filter(name__in=ROLE_ORDER))
    if role:
        user.groups.add(Group.objects.get(name=role))
    record_admin_action(actor=actor, action="user.role_changed", obj=user,
                        before={"roles": before}, after={"roles": [role] if role else []},
                        request=request)
