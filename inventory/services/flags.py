"""Raising and resolving findings (once called flags) on inventory objects."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from inventory.finding_rules import RULES_BY_KIND
from inventory.models import Flag
from inventory.services.rule_settings import effective_rule

# A task still working or input_required after its TTL (raised by inventory.services.task_expiry).
TASK_PAST_TTL = "task.past_ttl"


@contextmanager
def acting_as(actor: str, note: str = ""):
    """Within this block (one transaction), the finding triggers record `actor` and `note` on
    every change they write (migration 0014): a username for triage, "rule" for rules."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('findings.actor', %s, true), set_config('findings.note', %s, true)",
            [actor[:200], note],
        )
        yield
        # Not in a `finally`: after a database error the transaction is aborted (another
        # statement would hide the error), and rolling back its savepoint undoes these settings.
        cursor.execute(
            "SELECT set_config('findings.actor', '', true), set_config('findings.note', '', true)"
        )


def raise_flag(
    *,
    kind: str,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    summary: str,
    severity: str = Flag.Severity.WARNING,
    details: dict | None = None,
    dedup_key: str = "",
    at=None,
) -> Flag | None:
    """Open a flag, or refresh the open one with the same kind, object and dedup key.

    The Admin's rule settings apply (the rules page): a rule turned off raises nothing (None),
    and a severity the Admin chose replaces the one the raiser proposes (raisers that grade a
    problem themselves keep their grades until an Admin sets one)."""
    if kind in RULES_BY_KIND:
        rule = effective_rule(kind)
        if not rule.enabled:
            return None
        if rule.severity != rule.rule.severity:
            severity = rule.severity
    at = at or timezone.now()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    key = {
        "kind": kind,
        "object_type": object_type,
        "object_id": object_id,
        "dedup_key": dedup_key,
        "resolved_at__isnull": True,
    }
    with transaction.atomic():
        updated = Flag.objects.filter(**key).update(
            last_raised_at=at,
            times_raised=F("times_raised") + 1,
            summary=summary,
            details=details or {},
            severity=severity,
        )
        if updated:
            return Flag.objects.get(**key)
        # The partial unique index settles a race between two raisers: retry as an update.
        try:
            with transaction.atomic():
                return Flag.objects.create(
                    kind=kind,
                    object_type=object_type,
                    object_id=object_id,
                    object_repr=str(obj)[:500] if obj is not None else "",
                    dedup_key=dedup_key,
                    summary=summary,
                    severity=severity,
                    details=details or {},
                    raised_at=at,
                    last_raised_at=at,
                )
        except IntegrityError:  # a concurrent raiser created it first
            Flag.objects.filter(**key).update(last_raised_at=at, times_raised=F("times_raised") + 1)
            return Flag.objects.get(**key)


def resolve_open_flags(
    obj, kinds, *, by: str, dedup_key: str | None = None, keep=(), at=None
) -> int:
    """Close `obj`'s open flags of these kinds in one UPDATE (a later occurrence opens a new
    flag): all of them, or only those with `dedup_key` when given, except the ids in `keep`
    (flags just raised again). Returns how many were closed."""
    flags = Flag.objects.open().filter(
        object_type=obj._meta.label_lower, object_id=str(obj.pk), kind__in=list(kinds)
    )
    if dedup_key is not None:
        flags = flags.filter(dedup_key=dedup_key)
    if keep:
        flags = flags.exclude(pk__in=list(keep))
    return flags.update(
        resolved_at=at or timezone.now(),
        resolved_by=by,
        status=Flag.Status.RESOLVED,
        resolution=Flag.Resolution.CLEARED,
    )
