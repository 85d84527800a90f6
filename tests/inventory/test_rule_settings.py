"""An Admin's finding-rule settings: catalogue defaults, overrides validated field by field."""

import pytest
from django.core.exceptions import ValidationError

from governance.access.models import SiteSetting
from inventory.finding_rules import RULES, RULES_BY_KIND, SETTING_KEY
from inventory.services.rule_settings import (
    all_effective_rules,
    effective_rule,
    save_rule_overrides,
    scopes_matching,
)

pytestmark = pytest.mark.django_db


def _error_fields(excinfo) -> set[str]:
    return set(excinfo.value.message_dict)


def test_without_overrides_a_rule_is_the_catalogue_default():
    rule = effective_rule("grant.dormant")
    assert rule.enabled and rule.severity == "warning" and rule.thresholds == {"days": 90}
    assert rule.rule is RULES_BY_KIND["grant.dormant"]


def test_saved_overrides_are_what_the_next_run_obeys_with_types_coerced():
    saved = save_rule_overrides(
        "grant.dormant", enabled=False, severity="high", thresholds={"days": "30"}
    )
    assert saved.thresholds == {"days": 30} and not saved.enabled and saved.severity == "high"
    assert effective_rule("grant.dormant") == saved
    spike = save_rule_overrides(
        "activity.error_spike", enabled=True, severity="warning", thresholds={"factor": "2.5"}
    )
    # the one given is a float like its default; the others keep their values
    assert spike.thresholds == {"factor": 2.5, "minimum": 20, "baseline_days": 7}


def test_saving_one_rule_keeps_the_others_overrides():
    save_rule_overrides("grant.dormant", enabled=True, severity="high", thresholds={"days": 10})
    save_rule_overrides("task.past_ttl", enabled=False, severity="info", thresholds={})
    assert effective_rule("grant.dormant").thresholds == {"days": 10}
    assert not effective_rule("task.past_ttl").enabled


@pytest.mark.parametrize(
    "kind, values, field",
    [
        ("no.such_rule", {}, "kind"),
        ("grant.dormant", {"severity": "urgent"}, "severity"),
        ("grant.dormant", {"enabled": "yes"}, "enabled"),
        ("grant.dormant", {"thresholds": {"days": 0}}, "thresholds.days"),
        ("grant.dormant", {"thresholds": {"days": "ninety"}}, "thresholds.days"),
        ("grant.dormant", {"thresholds": {"days": 1.5}}, "thresholds.days"),
        ("grant.dormant", {"thresholds": {"weeks": 3}}, "thresholds.weeks"),
        ("grant.dormant", {"thresholds": ["days"]}, "thresholds"),
        ("grant.broad_scopes", {"thresholds": {"patterns": ["admin", "(unclosed"]}}, ""),
        ("grant.broad_scopes", {"thresholds": {"patterns": 7}}, "thresholds.patterns"),
        ("activity.error_spike", {"thresholds": {"factor": "nan"}}, "thresholds.factor"),
    ],
)
def test_bad_settings_are_refused_naming_the_field_and_nothing_is_stored(kind, values, field):
    args = {"enabled": True, "severity": "warning", "thresholds": {}, **values}
    with pytest.raises(ValidationError) as excinfo:
        save_rule_overrides(kind, **args)
    assert _error_fields(excinfo) == {field or "thresholds.patterns"}
    assert not SiteSetting.objects.filter(key=SETTING_KEY).exists()


def test_pattern_lists_come_from_lines_or_commas_and_the_bare_wildcard_is_allowed():
    saved = save_rule_overrides(
        "grant.broad_scopes",
        enabled=True,
        severity="warning",
        thresholds={"patterns": "*\n.*:admin, root\n\n root"},
    )
    assert saved.thresholds["patterns"] == ["*", ".*:admin", "root"]


def test_a_stored_override_that_no_longer_validates_falls_back_to_the_default():
    SiteSetting.objects.create(
        key=SETTING_KEY,
        value={
            "grant.dormant": {"severity": "bogus", "thresholds": {"days": -4, "gone": 1}},
            "no.longer_a_rule": {"enabled": False},
        },
    )
    rule = effective_rule("grant.dormant")
    assert rule.enabled and rule.severity == "warning" and rule.thresholds == {"days": 90}


def test_every_rule_is_read_in_one_query(django_assert_num_queries):
    save_rule_overrides("grant.dormant", enabled=False, severity="high", thresholds={})
    with django_assert_num_queries(1):
        rules = all_effective_rules()
    assert list(rules) == [r.kind for r in RULES]
    assert not rules["grant.dormant"].enabled and rules["task.past_ttl"].enabled


def test_scope_patterns_match_whole_scopes_literally_or_as_regular_expressions():
    scopes = ["crm:admin", "crm:administer", "admin", "*", "crm:read", "user.read", "User.Read"]
    assert scopes_matching(["admin", "*", ".*:admin"], scopes) == ["*", "admin", "crm:admin"]
    assert scopes_matching(["user.*"], scopes) == ["user.read"]
