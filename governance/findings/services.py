"""Triage of findings (issue 14 §3): acknowledge, resolve, suppress until a time, reopen, assign,
one finding or many at once. Admin-only (the views and the API check the role).

Each action is one conditional UPDATE over the findings it applies to (never check-then-act: two
Admins triaging the same finding cannot both win), inside `acting_as(username, note)` so the
database trigger writes the FindingChange rows with who and why, and inside the same transaction
as the admin-action record. A bulk action skips the findings the action does not apply to and
says how many; a single one raises `NotApplicable` instead, naming the finding's status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from governance.access.records import record_admin_action
from governance.access.roles import ROLE_ORDER
from inventory.finding_rules import SETTING_KEY
from inventory.models import Finding
from inventory.services import rule_settings
from inventory.services.flags import acting_as

Status = Finding.Status
UNRESOLVED = (Status.OPEN, Status.ACKNOWLEDGED, Status.SUPPRESSED)
# The statuses each action applies to. A resolved finding never reopens: if its condition
# returns, the rule opens a new one (the partial unique index allows one unresolved per subject).
APPLIES_TO = {
    "acknowledge": (Status.OPEN, Status.SUPPRESSED),
    "resolve": UNRESOLVED,
    "suppress": UNRESOLVED,
    "reopen": (Status.ACKNOWLEDGED, Status.SUPPRESSED),
    "assign": UNRESOLVED,
}
ACTIONS = tuple(APPLIES_TO)
# A bulk action takes at most this many ids (one UPDATE, one trigger run per row).
MAX_BULK = 1000
MAX_NOTE = 2000


class TriageError(ValueError):
    """Input a triage action cannot take; `field` names it (for a form error or a 400)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class NotApplicable(TriageError):
    """The action does not apply to the finding in its current status."""


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did: `done` findings changed, `skipped` left as they were."""

    action: str
    done: int
    skipped: int

    def message(self) -> str:
        verb = PAST[self.action]
        text = f"{self.done} finding{'s' if self.done != 1 else ''} {verb}"
        if self.skipped:
            text += f"; {self.skipped} skipped (the action does not apply to their status)"
        return text + "."


PAST = {
    "acknowledge": "acknowledged",
    "resolve": "resolved",
    "suppress": "suppressed",
    "reopen": "reopened",
    "assign": "assigned",
}


def _note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise TriageError("note", f"at most {MAX_NOTE} characters")
    if "\x00" in note:
        raise TriageError("note", "contains a NUL character")
    return note


def _values(action: str, *, user, note: str, until=None, reason="", assignee=None) -> dict:
    """The columns the action sets (the trigger derives the history row from them)."""
    now = timezone.now()
    if action == "acknowledge":
        return {
            "status": Status.ACKNOWLEDGED,
            "acknowledged_at": now,
            "acknowledged_by": user.get_username(),
            "suppressed_until": None,
            "suppress_reason": "",
        }
    if action == "resolve":
        return {
            "status": Status.RESOLVED,
            "resolved_at": now,
            "resolved_by": user.get_username(),
            "resolution": Finding.Resolution.MANUAL,
            "resolution_note": note,
        }
    if action == "suppress":
        return {"status": Status.SUPPRESSED, "suppressed_until": until, "suppress_reason": reason}
    if action == "reopen":
        return {
            "status": Status.OPEN,
            "acknowledged_at": None,
            "acknowledged_by": "",
            "suppressed_until": None,
            "suppress_reason": "",
        }
    return {"assignee": assignee}


def _check_suppression(until, reason: str) -> tuple[datetime, str]:
    if until is None:
        raise TriageError("until", "required: the time the suppression ends")
    if timezone.is_naive(until):
        until = timezone.make_aware(until)
    if until <= timezone.now():
        raise TriageError("until", "must be in the future")
    reason = (reason or "").strip()
    if not reason:
        raise TriageError("reason", "required: why the finding is suppressed")
    if len(reason) > MAX_NOTE:
        raise TriageError("reason", f"at most {MAX_NOTE} characters")
    return until, reason


def _check_assignee(assignee):
    """An active user (or None to unassign)."""
    if assignee is not None and not assignee.is_active:
        raise TriageError("assignee", f"{assignee.get_username()} is not an active user")
    return assignee


def _apply(action: str, ids, *, user, note: str, request=None, **options) -> tuple[int, list]:
    """Run one action over `ids` in one transaction; (changed count, changed ids)."""
    note = _note(note)
    if action == "suppress":
        options["until"], options["reason"] = _check_suppression(
            options.get("until"), options.get("reason", "")
        )
    if action == "assign":
        options["assignee"] = _check_assignee(options.get("assignee"))
    values = _values(action, user=user, note=note, **options)
    with transaction.atomic(), acting_as(user.get_username(), note):
        rows = Finding.objects.filter(pk__in=list(ids), status__in=APPLIES_TO[action])
        if action == "assign":  # assigning the current assignee again is no change
            who = values["assignee"]
            rows = rows.exclude(assignee=who) if who else rows.filter(assignee__isnull=False)
        # Locked in id order, so two bulk actions over overlapping ids cannot deadlock.
        changed = list(rows.select_for_update().order_by("pk").values_list("pk", flat=True))
        if not changed:
            return 0, []
        Finding.objects.filter(pk__in=changed).update(**values)
        _record(action, changed, values, user=user, note=note, request=request)
    return len(changed), changed


def _record(action: str, changed: list, values: dict, *, user, note: str, request) -> None:
    after = {k: v for k, v in values.items() if k != "assignee"}
    if "assignee" in values:
        after["assignee"] = values["assignee"].get_username() if values["assignee"] else None
    one = len(changed) == 1
    record_admin_action(
        actor=user,
        action=f"finding.{PAST[action]}",
        object_type="inventory.finding",
        object_id=str(changed[0]) if one else "",
        object_repr=str(Finding.objects.get(pk=changed[0]))[:500] if one else "",
        after={**after, "findings": changed},
        note=note,
        request=request,
    )


def _single(action: str, finding: Finding, *, user, note: str, request=None, **options) -> Finding:
    done, _ = _apply(action, [finding.pk], user=user, note=note, request=request, **options)
    finding.refresh_from_db()
    if not done:
        if action == "assign" and finding.status != Status.RESOLVED:
            raise NotApplicable("assignee", "the finding already has this assignee")
        raise NotApplicable(
            "status", f"cannot {action} a finding that is {finding.get_status_display().lower()}"
        )
    return finding


def acknowledge(finding: Finding, *, user, note: str = "", request=None) -> Finding:
    """Someone has seen it and owns the follow-up: it leaves "needs attention"."""
    return _single("acknowledge", finding, user=user, note=note, request=request)


def resolve(finding: Finding, *, user, note: str = "", request=None) -> Finding:
    """Closed by a person (the rule opens a new finding if the condition returns)."""
    return _single("resolve", finding, user=user, note=note, request=request)


def suppress(
    finding: Finding, *, user, until: datetime, reason: str, note: str = "", request=None
) -> Finding:
    """Hidden until `until` (future) for `reason`; it needs attention again after that."""
    return _single(
        "suppress",
        finding,
        user=user,
        note=note or reason,
        request=request,
        until=until,
        reason=reason,
    )


def reopen(finding: Finding, *, user, note: str = "", request=None) -> Finding:
    """An acknowledged or suppressed finding needs attention again."""
    return _single("reopen", finding, user=user, note=note, request=request)


def assign(finding: Finding, *, user, assignee, note: str = "", request=None) -> Finding:
    """Give the finding to `assignee` (a user), or to nobody (None)."""
    return _single("assign", finding, user=user, note=note, request=request, assignee=assignee)


def bulk(action: str, ids, *, user, note: str = "", request=None, **options) -> BulkResult:
    """One action over many findings in one transaction, skipping those it does not apply to."""
    if action not in APPLIES_TO:
        raise TriageError("action", f"one of {', '.join(ACTIONS)}")
    ids = sorted({int(pk) for pk in ids})
    if not ids:
        raise TriageError("ids", "select at least one finding")
    if len(ids) > MAX_BULK:
        raise TriageError("ids", f"at most {MAX_BULK} findings at once")
    if action == "suppress" and not note:
        note = options.get("reason", "")
    done, _ = _apply(action, ids, user=user, note=note, request=request, **options)
    return BulkResult(action=action, done=done, skipped=len(ids) - done)


def assignable_users():
    """Users a finding can be assigned to: active ones holding a console role."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(groups__name__in=ROLE_ORDER)
        .union(get_user_model().objects.filter(is_active=True, is_superuser=True))
        .order_by("username")
    )


def save_rule(kind: str, *, user, enabled: bool, severity: str, thresholds: dict, request=None):
    """Save one rule's settings (rule_settings.save_rule_overrides validates and names the field
    it refuses), record the change, and run the rule once this commits: a rule turned off
    resolves its findings, a new severity or threshold applies, within seconds of the save."""
    from governance.findings.tasks import run_rules  # tasks imports the rule runner

    with transaction.atomic():
        before = rule_settings.effective_rule(kind)
        after = rule_settings.save_rule_overrides(
            kind, enabled=enabled, severity=severity, thresholds=thresholds
        )
        record_admin_action(
            actor=user,
            action="finding_rule.updated",
            object_type="governance.sitesetting",
            object_id=SETTING_KEY,
            object_repr=f"{SETTING_KEY}: {kind}",
            before=_rule_settings_record(before),
            after=_rule_settings_record(after),
            request=request,
        )
        transaction.on_commit(lambda: run_rules.delay(kinds=[kind]))
    return after


def _rule_settings_record(effective) -> dict:
    return {
        "enabled": effective.enabled,
        "severity": effective.severity,
        "thresholds": dict(effective.thresholds),
    }
