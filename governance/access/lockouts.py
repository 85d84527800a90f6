"""Login lockouts (django-axes): who is locked out now, and the record of each lockout.

axes counts failed logins per username and per address (settings LOGIN_*); these reads let the
users page show and lift lockouts without the Django admin.
"""

from __future__ import annotations

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.utils import timezone

from governance.access.records import record_admin_action


def _recent_attempts():
    attempts = AccessAttempt.objects.all()
    if settings.AXES_COOLOFF_TIME is not None:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME)
    return attempts


def _locked(field: str) -> list[dict]:
    if field not in _lockout_fields():
        return []
    rows = (
        _recent_attempts()
        .exclude(**{f"{field}__isnull": True})
        .values(field)
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
        .order_by("-last")
    )
    return [
        {
            "key": row[field],
            "failures": row["failures"],
            "last": row["last"],
            "until": row["last"] + settings.AXES_COOLOFF_TIME
            if settings.AXES_COOLOFF_TIME
            else None,
        }
        for row in rows
    ]


def _lockout_fields() -> set[str]:
    return {p for p in settings.AXES_LOCKOUT_PARAMETERS if isinstance(p, str)}


def locked_usernames() -> list[dict]:
    """Usernames locked out now: key, failures, last attempt, until (None: until unlocked)."""
    return _locked("username")


def locked_addresses() -> list[dict]:
    """Client addresses locked out now, as locked_usernames."""
    return _locked("ip_address")


def record_lockout(sender, request, username, ip_address, **kwargs) -> None:
    """axes' user_locked_out signal: record the moment a lockout starts, once.

    axes sends the signal on every failure at or past the limit (each one restarts the
    cool-off); only the failure that reaches the limit is recorded, so a script hammering a
    locked account does not flood the admin-action log. The lockout is axes' own write, and
    this signal is its one hook, hence a receiver rather than a service call.
    """
    failures = getattr(request, "axes_failures_since_start", None)
    if failures != settings.AXES_FAILURE_LIMIT:
        return
    record_admin_action(
        actor=None,
        action="login.locked_out",
        object_type="login",
        object_id=username or ip_address or "",
        object_repr=username or "",
        after={"username": username, "ip_address": ip_address, "failures": failures},
        request=request,
        note="too many failed logins",
    )
