"""Rules whose raisers do not read the Admin's settings (the ingest path's statements, the CIMD
crawl's checks) obey them at the next scheduled run: a rule turned off has its open findings
resolved, saying why, and open findings take the severity the Admin chose. Raising these kinds
end to end is tested in tests/audit/test_event_rules.py; here the findings are inserted as those
raisers leave them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.findings.event_rules import ENFORCED_KINDS
from governance.findings.rules import SCHEDULED_RULES, run_scheduled_rules
from inventory.finding_rules import RULES
from inventory.models import Finding, FindingChange
from inventory.services.flags import raise_flag
from inventory.services.rule_settings import save_rule_overrides

pytestmark = pytest.mark.django_db

PERSON_RESOLVED = ["access.used_after_revocation", "task.illegal_transition"]
CRAWL = "cimd.redirect_uri_added"


def open_finding(kind: str, object_id: str = "1") -> Finding:
    now = timezone.now() - timedelta(minutes=5)
    return Finding.objects.create(
        kind=kind,
        severity="warning",
        object_type="inventory.client",
        object_id=object_id,
        summary=f"{kind} on {object_id}",
        raised_at=now,
        last_raised_at=now,
    )


@pytest.mark.parametrize("kind", [*PERSON_RESOLVED, CRAWL])
def test_a_disabled_rule_is_resolved_at_the_next_run_and_says_why(kind):
    finding = open_finding(kind)
    save_rule_overrides(kind, enabled=False, severity="warning", thresholds={})
    assert run_scheduled_rules(kinds=[kind])[kind]["resolved"] == 1
    finding.refresh_from_db()
    assert finding.status == "resolved" and finding.resolved_by == "rule"
    assert "rule disabled" in FindingChange.objects.get(finding=finding, action="cleared").note


@pytest.mark.parametrize("kind", [*PERSON_RESOLVED, CRAWL])
def test_rules_a_person_resolves_stay_open_and_take_the_admins_severity(kind):
    finding = open_finding(kind)
    assert run_scheduled_rules(kinds=[kind])[kind]["resolved"] == 0  # a person resolves it
    save_rule_overrides(kind, enabled=True, severity="critical", thresholds={})
    assert run_scheduled_rules(kinds=[kind])[kind]["severity_set"] == 1
    finding.refresh_from_db()
    assert finding.status == "open" and finding.severity == "critical"
    assert FindingChange.objects.filter(finding=finding, action="severity").exists()


def test_every_rule_of_the_catalogue_is_enforced_by_the_scheduled_run():
    scheduled = {getattr(rule, "kind", None) for rule in SCHEDULED_RULES}
    # Rules that read the settings where they raise (the OAuth drift check, the crawl's
    # risky-first-seen run, which is also scheduled) need no enforcement here.
    read_where_raised = {"server.oauth_metadata_changed"}
    assert {r.kind for r in RULES} - scheduled - read_where_raised == set()
    assert set(ENFORCED_KINDS) <= scheduled


GRADED = "cimd.fetch_failed"  # its raiser says warning or high; the catalogue lists high


def test_a_crawl_kind_turned_off_is_not_raised_and_its_open_ones_resolve_at_the_next_run():
    finding = open_finding(GRADED)
    save_rule_overrides(GRADED, enabled=False, severity="high", thresholds={})
    raised = raise_flag(
        kind=GRADED, object_type="inventory.client", object_id="2", summary="cannot fetch"
    )
    assert raised is None and not Finding.objects.filter(object_id="2").exists()
    assert run_scheduled_rules(kinds=[GRADED])[GRADED]["resolved"] == 1
    finding.refresh_from_db()
    assert finding.status == "resolved"


def test_a_crawl_kind_keeps_its_raisers_grades_until_an_admin_sets_a_severity():
    finding = open_finding(GRADED)  # raised as a warning: a first fetch that failed
    assert run_scheduled_rules(kinds=[GRADED])[GRADED]["severity_set"] == 0
    finding.refresh_from_db()
    assert finding.severity == "warning"
    save_rule_overrides(GRADED, enabled=True, severity="info", thresholds={})
    raised = raise_flag(
        kind=GRADED,
        object_type="inventory.client",
        object_id="3",
        summary="cannot fetch",
        severity="high",
    )
    assert raised.severity == "info"  # the Admin's choice wins over the raiser's grade
    assert run_scheduled_rules(kinds=[GRADED])[GRADED]["severity_set"] == 1
    finding.refresh_from_db()
    assert finding.severity == "info"
