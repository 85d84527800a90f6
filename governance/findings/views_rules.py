"""The rules page: every rule of the catalogue (inventory/finding_rules.py) with why it matters,
its severity, what clears it, its thresholds and how many findings it holds open; for Admins a
form per rule to switch it off, change its severity or its thresholds.

The overrides are read and written by inventory/services/rule_settings.py (`all_effective_rules`,
`save_rule_overrides`), written beside this page; until that module is installed the page shows
the catalogue's defaults and no form. The change is recorded here as an admin action.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from governance.access.records import record_admin_action
from governance.access.roles import ADMIN, VIEWER, has_role, role_required
from governance.findings import queries
from inventory.finding_rules import RULES, RULES_BY_KIND, SETTING_KEY, Rule
from inventory.models import Finding

try:  # written by another part of issue 14 (rule overrides); absent, the page shows defaults
    from inventory.services import rule_settings
except ImportError:  # pragma: no cover - only before that module lands
    rule_settings = None


def _effective(kind: str):
    return rule_settings.effective_rule(kind) if rule_settings else None


def _row(rule: Rule, effective, open_count: int) -> dict:
    """What the page shows of one rule: its catalogue entry with the effective settings."""
    thresholds = dict(getattr(effective, "thresholds", None) or {})
    return {
        "rule": rule,
        "enabled": getattr(effective, "enabled", True),
        "severity": getattr(effective, "severity", rule.severity),
        "thresholds": [
            (
                t,
                _shown(thresholds.get(t.name, t.default)),
                thresholds.get(t.name, t.default) != t.default,
            )
            for t in rule.thresholds
        ],
        "open": open_count,
    }


def _shown(value) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


@role_required(VIEWER)
def finding_rule_list(request):
    """Every rule with its documentation, effective settings and open findings."""
    return _page(request, {}, 200)


def _page(request, errors: dict, status: int):
    effective = {}
    if rule_settings is not None:
        effective = {rule.kind: rule for rule in rule_settings.all_effective_rules()}
    counts = queries.open_counts_by_kind()
    context = {
        "rows": [_row(r, effective.get(r.kind), counts.get(r.kind, 0)) for r in RULES],
        "severities": Finding.Severity.choices,
        "editable": rule_settings is not None and has_role(request.user, ADMIN),
        "overrides_installed": rule_settings is not None,
        "errors": errors,
    }
    return render(request, "findings/rule_list.html", context, status=status)


def parse_threshold(threshold, raw: str):
    """A threshold's value from the form, typed like its default; ValueError naming it."""
    raw = raw.strip()
    default = threshold.default
    if isinstance(default, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    if isinstance(default, str):
        return raw
    try:
        value = int(raw) if isinstance(default, int) else float(raw)
    except ValueError:
        kind = "a whole number" if isinstance(default, int) else "a number"
        raise ValueError(f"{threshold.name}: {raw[:40]!r} is not {kind}") from None
    if threshold.minimum is not None and value < threshold.minimum:
        raise ValueError(f"{threshold.name}: at least {threshold.minimum}")
    return value


@role_required(ADMIN)
@require_POST
def finding_rule_update(request, kind: str):
    """Save one rule's enabled flag, severity and thresholds; back to the rules page."""
    rule = RULES_BY_KIND.get(kind)
    if rule is None or rule_settings is None:
        raise Http404("No such rule.")
    severity = request.POST.get("severity", "")
    try:
        if severity not in dict(Finding.Severity.choices):
            raise ValueError(f"severity: one of {', '.join(dict(Finding.Severity.choices))}")
        thresholds = {
            t.name: parse_threshold(t, request.POST.get(f"threshold.{t.name}", str(t.default)))
            for t in rule.thresholds
        }
        with transaction.atomic():
            before = _effective(kind)
            after = rule_settings.save_rule_overrides(
                kind,
                enabled=request.POST.get("enabled") == "on",
                severity=severity,
                thresholds=thresholds,
            )
            record_admin_action(
                actor=request.user,
                action="finding_rule.updated",
                object_type="governance.sitesetting",
                object_id=SETTING_KEY,
                object_repr=f"{SETTING_KEY}: {kind}",
                before=_settings_of(before),
                after=_settings_of(after),
                request=request,
            )
    except (ValueError, ValidationError) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return _page(request, {kind: message}, 400)
    messages.success(request, f"Rule {kind} saved.")
    return redirect(reverse("findings:finding_rule_list") + f"#rule-{kind}")


def _settings_of(effective) -> dict | None:
    if effective is None:
        return None
    return {
        "enabled": getattr(effective, "enabled", None),
        "severity": getattr(effective, "severity", None),
        "thresholds": dict(getattr(effective, "thresholds", None) or {}),
    }
