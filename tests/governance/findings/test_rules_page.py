"""The rules page: every rule of the catalogue with why, severity, what clears it, thresholds and
open counts; Admins change a rule through the overrides module."""

from unittest import mock

import pytest

from governance.access.models import AdminAction
from governance.findings.tasks import run_rules
from inventory.finding_rules import RULES, RULES_BY_KIND
from inventory.services import rule_settings

pytestmark = pytest.mark.django_db
RULES_PAGE = "/governance/findings/rules/"


def test_every_rule_is_documented_with_its_open_count(viewer_client, raise_finding):
    raise_finding(kind="client.blocked_with_grants")
    html = viewer_client.get(RULES_PAGE).content.decode()
    for rule in RULES:
        assert f'id="rule-{rule.kind}"' in html
        assert rule.title.replace("'", "&#x27;") in html
    assert "1 open →" in html
    assert "Save</button>" not in html  # Viewers get no form


def test_an_admin_changes_a_rule_and_it_is_recorded(admin_client_):
    rule = next(r for r in RULES if r.thresholds)
    threshold = rule.thresholds[0]
    answer = admin_client_.post(
        f"{RULES_PAGE}{rule.kind}/",
        {"severity": "critical", f"threshold.{threshold.name}": "5"},  # "enabled" unticked: off
    )
    assert answer.status_code == 302
    effective = rule_settings.effective_rule(rule.kind)
    assert effective.severity == "critical" and not effective.enabled
    assert effective.thresholds[threshold.name] == 5
    assert AdminAction.objects.filter(action="finding_rule.updated").count() == 1


def test_a_bad_threshold_is_a_400_naming_it(admin_client_):
    rule = RULES_BY_KIND["grant.dormant"]
    assert rule.thresholds, "the dormant-grant rule has its days threshold"
    name = rule.thresholds[0].name
    answer = admin_client_.post(
        f"{RULES_PAGE}{rule.kind}/", {"severity": "high", f"threshold.{name}": "lots"}
    )
    html = answer.content.decode()
    assert answer.status_code == 400 and f"thresholds.{name}" in html
    assert 'value="lots"' in html  # what was typed is kept for correcting
    # Said at the top of the page too (the rule's form may be far down), linking to it.
    assert "was not saved" in html and f'href="#rule-{rule.kind}"' in html


def test_saving_a_rule_queues_a_run_of_that_rule(admin_client_, django_capture_on_commit_callbacks):
    queued = []
    with mock.patch.object(run_rules, "delay", side_effect=lambda **kw: queued.append(kw)):
        with django_capture_on_commit_callbacks(execute=True):
            admin_client_.post(f"{RULES_PAGE}grant.dormant/", {"severity": "high"})
    assert queued == [{"kinds": ["grant.dormant"]}]
