"""docs/findings.md is the prose version of the rule catalogue: one section per rule, no more."""

import re
from pathlib import Path

from inventory.finding_rules import RULES

DOC = Path(__file__).resolve().parents[3] / "docs" / "findings.md"


def _parts() -> list[str]:
    return re.split(r"^### `([^`]+)`\s*$", DOC.read_text(), flags=re.MULTILINE)


def _sections() -> dict[str, str]:
    parts = _parts()
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_rule_in_the_catalogue_has_its_section_and_every_section_a_rule():
    documented = _parts()[1::2]  # every heading, a repeated one twice
    assert sorted(documented) == sorted(rule.kind for rule in RULES)
    assert len(documented) == len(set(documented)), "a rule is documented twice"


def test_each_section_says_why_severity_what_clears_it_where_it_runs_and_its_thresholds():
    sections = _sections()
    for rule in RULES:
        body = sections[rule.kind]
        for label in ("**Severity:**", "**Clears:**", "**Runs:**", "**Thresholds:**"):
            assert label in body, f"{rule.kind}: no {label}"
        assert f"**Severity:** {rule.severity}." in body, rule.kind
        for threshold in rule.thresholds:
            assert f"`{threshold.name}`" in body, f"{rule.kind}: threshold {threshold.name}"
