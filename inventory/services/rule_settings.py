"""What an Admin changed about the finding rules: a rule turned off, its severity, its thresholds.

The catalogue (inventory/finding_rules.py) holds the defaults; the Admin's overrides are one
SiteSetting (`findings.rules`, {kind: {"enabled", "severity", "thresholds": {...}}}) so a rule
run reads every rule's settings in one query. Only what differs from the catalogue matters:
a kind or threshold the catalogue no longer has is ignored on read, refused on write.

The triage UI records the admin action; this module validates and stores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from governance.access.models import SiteSetting
from inventory.finding_rules import RULES, RULES_BY_KIND, SETTING_KEY, Rule, Threshold
from inventory.models import SEVERITY_RANK

# A pattern list may hold this bare wildcard: it names the scope "*" itself (it is not a valid
# regular expression, and scopes named "*" are what the broad-scope rule looks for).
LITERAL_WILDCARD = "*"


@dataclass(frozen=True)
class EffectiveRule:
    """A catalogue rule with the Admin's overrides applied: what a rule run obeys."""

    rule: Rule
    enabled: bool
    severity: str
    thresholds: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.rule.kind


def _overrides() -> dict:
    setting = SiteSetting.objects.filter(key=SETTING_KEY).values_list("value", flat=True).first()
    return setting if isinstance(setting, dict) else {}


def _merge(rule: Rule, override) -> EffectiveRule:
    """Defaults, then whatever of the override is still valid (an Admin's old value that no
    longer validates falls back to the default rather than breaking the run)."""
    override = override if isinstance(override, dict) else {}
    severity = override.get("severity")
    thresholds = {t.name: t.default for t in rule.thresholds}
    saved = override.get("thresholds") if isinstance(override.get("thresholds"), dict) else {}
    for threshold in rule.thresholds:
        if threshold.name in saved:
            try:
                thresholds[threshold.name] = coerce_threshold(threshold, saved[threshold.name])
            except ValidationError:
                pass
    return EffectiveRule(
        rule=rule,
        enabled=override.get("enabled") is not False,
        severity=severity if severity in SEVERITY_RANK else rule.severity,
        thresholds=thresholds,
    )


def effective_rule(kind: str) -> EffectiveRule:
    """One rule's settings as a run obeys them (KeyError for a kind the catalogue lacks)."""
    return _merge(RULES_BY_KIND[kind], _overrides().get(kind))


def all_effective_rules() -> dict[str, EffectiveRule]:
    """Every catalogue rule's settings, in catalogue order, from one query."""
    overrides = _overrides()
    return {rule.kind: _merge(rule, overrides.get(rule.kind)) for rule in RULES}


def coerce_threshold(threshold: Threshold, value):
    """`value` as the default's type (a number from a form's text, a list from lines or
    commas), at least the minimum; ValidationError naming `thresholds.<name>` otherwise."""
    name = f"thresholds.{threshold.name}"
    default = threshold.default
    if isinstance(default, list):
        return _pattern_list(name, value)
    if isinstance(default, bool) or not isinstance(default, int | float):
        if not isinstance(value, str):
            raise ValidationError({name: "must be text"})
        return value.strip()
    kind = int if isinstance(default, int) else float
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float)):
            raise ValueError
        number = kind(str(value).strip()) if isinstance(value, str) else kind(value)
    except (TypeError, ValueError):
        word = "a whole number" if kind is int else "a number"
        raise ValidationError({name: f"must be {word}"}) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValidationError({name: "must be a finite number"})
    if threshold.minimum is not None and number < threshold.minimum:
        raise ValidationError({name: f"must be at least {threshold.minimum}"})
    return number


def _pattern_list(name: str, value) -> list[str]:
    """Scopes or regular expressions, one per line (or comma) in text, or a list of strings.
    Each must compile (the bare "*" names the scope "*"), so a typo is refused when saved, not
    found later by a failing run."""
    if isinstance(value, str):
        value = re.split(r"[\n,]", value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError({name: "must be a list of scopes or regular expressions"})
    patterns = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    for pattern in patterns:
        if len(pattern) > 200:
            raise ValidationError({name: f"{pattern[:40]}…: at most 200 characters"})
        if pattern == LITERAL_WILDCARD:
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            message = f"{pattern!r} is not a valid regular expression: {exc}"
            raise ValidationError({name: message}) from None
    return patterns


@transaction.atomic
def save_rule_overrides(
    kind: str, *, enabled: bool, severity: str, thresholds: dict
) -> EffectiveRule:
    """Store an Admin's settings for one rule (validated first) and return them as a run will
    obey them. Thresholds not given keep their current value."""
    rule = RULES_BY_KIND.get(kind)
    if rule is None:
        raise ValidationError({"kind": f"unknown rule {kind!r}"})
    if not isinstance(enabled, bool):
        raise ValidationError({"enabled": "must be true or false"})
    if severity not in SEVERITY_RANK:
        raise ValidationError({"severity": f"must be one of {', '.join(SEVERITY_RANK)}"})
    if not isinstance(thresholds, dict):
        raise ValidationError({"thresholds": "must be a mapping of threshold names to values"})
    known = {t.name: t for t in rule.thresholds}
    for name in thresholds:
        if name not in known:
            allowed = ", ".join(known) or "none"
            raise ValidationError({f"thresholds.{name}": f"unknown threshold (known: {allowed})"})
    # Row-locked read-modify-write: two Admins saving different rules at once both stay saved.
    setting, _ = SiteSetting.objects.select_for_update().get_or_create(
        key=SETTING_KEY, defaults={"value": {}}
    )
    overrides = setting.value if isinstance(setting.value, dict) else {}
    current = _merge(rule, overrides.get(kind)).thresholds
    current.update({n: coerce_threshold(known[n], v) for n, v in thresholds.items()})
    overrides[kind] = {"enabled": enabled, "severity": severity, "thresholds": current}
    setting.value = overrides
    setting.save(update_fields=["value", "updated_at"])
    return _merge(rule, overrides[kind])


def scopes_matching(patterns: list[str], scopes) -> list[str]:
    """The scopes (of those given) a pattern list names: equal to a pattern, or fully matched
    by one as a regular expression. Matching is done here, over the few distinct scopes the
    inventory holds, so SQL only asks `scopes && <these>` (the GIN index answers it)."""
    compiled = []
    for pattern in patterns:
        if pattern != LITERAL_WILDCARD:
            try:
                compiled.append(re.compile(pattern))
            except re.error:
                pass
    literal = set(patterns)
    return sorted(s for s in scopes if s in literal or any(c.fullmatch(s) for c in compiled))
