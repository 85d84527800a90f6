"""The rules page: every rule of the catalogue (inventory/finding_rules.py) with why it matters,
its severity, what clears it, its thresholds and how many findings it holds open; for Admins a
form per rule to switch it off, change its severity or its thresholds.

The overrides are read by inventory/services/rule_settings.py (`all_effective_rules`) and saved
by governance/findings/services.py (`save_rule`: validated, recorded, the rule run at once).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from governance.access.roles import ADMIN, VIEWER, has_role, role_required
from governance.findings import queries, services
from inventory.finding_rules import RULES, RULES_BY_KIND, Rule
from inventory.models import Finding
from inventory.services import rule_settings


def _row(rule: Rule, effective, open_count: int, typed=None) -> dict:
    """What the page shows of one rule: its catalogue entry with the effective settings (and,
    after a refused save, the form as the Admin typed it)."""
    thresholds = dict(effective.thresholds)
    typed = typed or {}
    return {
        "rule": rule,
        "enabled": effective.enabled,
        "severity": typed.get("severity") or effective.severity,
        "thresholds": [
            {
                "threshold": t,
                "shown": _shown(thresholds.get(t.name, t.default)),
                "changed": thresholds.get(t.name, t.default) != t.default,
                "input": typed.get(t.name, _shown(thresholds.get(t.name, t.default))),
                "size": 48 if isinstance(t.default, list) else 8,
            }
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


def _page(request, errors: dict, status: int, typed: dict | None = None):
    effective = rule_settings.all_effective_rules()
    counts = queries.open_counts_by_kind()
    context = {
        "rows": [
            _row(r, effective[r.kind], counts.get(r.kind, 0), (typed or {}).get(r.kind))
            for r in RULES
        ],
        "severities": Finding.Severity.choices,
        "editable": has_role(request.user, ADMIN),
        "errors": errors,
    }
    return render(request, "findings/rule_list.html", context, status=status)


@role_required(ADMIN)
@require_POST
def finding_rule_update(request, kind: str):
    """Save one rule's enabled flag, severity and thresholds; back to the rules page."""
    rule = RULES_BY_KIND.get(kind)
    if rule is None:
        raise Http404("No such rule.")
    # The form's text as typed: save_rule_overrides types and checks each value against its
    # default (a number, a list by commas or lines) and names the threshold it refuses.
    thresholds = {
        t.name: request.POST[f"threshold.{t.name}"]
        for t in rule.thresholds
        if f"threshold.{t.name}" in request.POST
    }
    try:
        services.save_rule(
            kind,
            user=request.user,
            enabled=request.POST.get("enabled") == "on",
            severity=request.POST.get("severity", ""),
            thresholds=thresholds,
            request=request,
        )
    except ValidationError as exc:
        typed = {**thresholds, "severity": request.POST.get("severity", "")}
        return _page(request, {kind: _named(exc)}, 400, {kind: typed})
    messages.success(request, f"Rule {kind} saved.")
    return redirect(reverse("findings:finding_rule_list") + f"#rule-{kind}")


def _named(exc: ValidationError) -> str:
    """The refusal with the field it names ("thresholds.days: must be at least 1")."""
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return "; ".join(exc.messages)
