"""Every finding kind that discovery and protocol code raises is in the rule catalogue, so the
findings list titles it, the rules page lists it and docs/findings.md documents it."""

import re
from pathlib import Path

from inventory.finding_rules import RULES_BY_KIND

ROOT = Path(__file__).resolve().parents[3]
# The modules that raise findings with literal kinds (the rest name catalogue kinds by constant).
RAISERS = (
    "inventory/cimd_checks.py",
    "inventory/services/cimd_flags.py",
    "inventory/services/oauth_metadata.py",
    "inventory/services/registry_history.py",
    "inventory/services/registry_ingest.py",
    "inventory/services/protocol_flags.py",
    "inventory/services/derive_tasks.py",
    "inventory/services/entities.py",
)
KIND = re.compile(r"""["'](?:cimd|oauth|registry|protocol|task)\.[a-z0-9_]+["']""")
NOT_FINDINGS = {"registry.created", "registry.updated", "registry.enabled", "registry.disabled"}


def _raised_kinds() -> set[str]:
    kinds = set()
    for path in RAISERS:
        text = (ROOT / path).read_text()
        kinds |= {m.group(0)[1:-1] for m in KIND.finditer(text)}
    return kinds - NOT_FINDINGS


def test_every_kind_discovery_and_protocol_code_raises_is_in_the_catalogue():
    raised = _raised_kinds()
    assert len(raised) >= 30, sorted(raised)
    assert sorted(k for k in raised if k not in RULES_BY_KIND) == []


def test_catalogue_severity_is_the_severity_the_task_transition_is_raised_with():
    for path in ("inventory/services/derive_tasks.py", "inventory/services/entities.py"):
        text = (ROOT / path).read_text()
        call = text[text.index('kind="task.illegal_transition"') :][:600]
        assert f'severity="{RULES_BY_KIND["task.illegal_transition"].severity}"' in call, path
