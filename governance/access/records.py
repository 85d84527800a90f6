"""The admin-action record: who changed what, before and after, written by the service that makes
the change, in its transaction (`record_admin_action`), with secret-named keys masked.

Every app's services call it; a management command wraps its work in `acting_from_command` so
its records name the OS user and the command."""

from __future__ import annotations

import contextlib
import contextvars
import getpass
import json
import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from governance.access.models import AdminAction

# Keys whose values never reach the record: password hashes, token hashes, client secrets...
# (`token_prefix` stays: it is what the console shows to tell tokens apart).
SECRET_KEY_RE = re.compile(
    r"password|passwd|secret|credential|private_key|api_key|token_hash|(^|_)token$", re.I
)
HIDDEN, HIDDEN_CHANGED = "[hidden]", "[hidden, changed]"

# Who is acting when a management command changes something (no request, no user).
_command_actor: contextvars.ContextVar[str] = contextvars.ContextVar("command_actor", default="")


@contextlib.contextmanager
def acting_from_command(command: str):
    """Records written inside name the OS user and the command (`alice (manage.py X)`)."""
    try:
        who = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers: still record the command
        who = "unknown"
    token = _command_actor.set(f"{who} (manage.py {command})"[:200])
    try:
        yield
    finally:
        _command_actor.reset(token)


class _Encoder(DjangoJSONEncoder):
    """Dates, decimals and UUIDs as DjangoJSONEncoder does; sets sorted; anything else its str."""

    def default(self, o):
        if isinstance(o, (set, frozenset)):
            return sorted(o, key=str)
        if isinstance(o, models.Model):
            return str(o)
        if isinstance(o, (bytes, memoryview)):
            return f"<{len(o)} bytes>"
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def json_safe(value):
    """`value` as plain JSON data (what the JSONField stores and the pages show)."""
    return json.loads(json.dumps(value, cls=_Encoder))


def _mask(value, other, *, compare: bool):
    """Hide secret-named keys (recursively); in `after`, say whether the secret changed."""
    if not isinstance(value, dict):
        return value
    masked = {}
    for key, item in value.items():
        peer = other.get(key) if isinstance(other, dict) else None
        if SECRET_KEY_RE.search(str(key)) and item not in (None, ""):
            masked[key] = HIDDEN_CHANGED if compare and peer != item else HIDDEN
        else:
            masked[key] = _mask(item, peer, compare=compare)
    return masked


def masked_pair(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """(before, after) as JSON with secrets hidden; a secret that differs shows as changed."""
    both = before is not None and after is not None
    return (
        None if before is None else json_safe(_mask(before, after, compare=False)),
        None if after is None else json_safe(_mask(after, before, compare=both)),
    )


def model_snapshot(obj: models.Model) -> dict:
    """Every concrete and many-to-many field of `obj` (m2m as sorted names), for before/after."""
    data = {field.attname: field.value_from_object(obj) for field in obj._meta.concrete_fields}
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            data[field.name] = sorted(str(o) for o in getattr(obj, field.name).all())
    return data


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
    object_repr: str = "",
) -> AdminAction:
    """Append one admin-action record. Call inside the same transaction as the change.

    before/after are stored as JSON (dates as ISO strings...) with secret-named keys hidden.
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    before, after = masked_pair(before, after)
    return AdminAction.objects.create(
        actor=actor if authenticated else None,
        actor_repr=actor.get_username() if authenticated else (_command_actor.get() or "system"),
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:500],
        before=before,
        after=after,
        ip_address=request.META.get("REMOTE_ADDR") if request is not None else None,
        note=note,
    )
