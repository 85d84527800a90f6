"""The demo deployment across apps: inventory first, then a week of audit events through ingest.

Cross-app orchestration lives here because governance may import both inventory and audit, while
inventory must not import audit (audit's ingest derives inventory state, so audit sits above it).
Each app keeps its own demo content: `inventory/services/demo.py` and `audit/demo.py`; the demo
IdP connections (labelled demo, no credential) are made here, linked to the demo grants' issuers.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.demo import seed_demo_events
from governance.findings.rules import run_scheduled_rules
from governance.idp.connections import ensure_demo_connection
from inventory.services.demo import DemoSummary, build_demo, demo_anchor
from inventory.services.demo_catalog import IDPS


@dataclass
class DemoSeeded:
    """What one seeding run built: the inventory summary and how many audit events were new."""

    inventory: DemoSummary
    new_events: int
    findings: dict | None = None


def seed_demo(*, seed: int = 42, scale: float = 1.0) -> DemoSeeded:
    """Build the deterministic demo (safe to run again: a second run changes nothing)."""
    summary = build_demo(seed=seed, scale=scale)
    seed_demo_connections()
    # A week of tool calls through the real ingest path, so the explorer and charts have data.
    new_events = seed_demo_events(seed=seed, scale=scale, anchor=demo_anchor())
    # The rules run once, so a fresh demo already shows findings of several kinds (blocked
    # clients and disabled identities with grants, dormant grants, ...) before the first beat.
    # Only when the seed added something: seeding again must change nothing (beat refreshes).
    findings = run_scheduled_rules() if summary.new_tasks or new_events else None
    return DemoSeeded(inventory=summary, new_events=new_events, findings=findings)


# Two demo connections, so the demo shows grants with the connection they came from.
DEMO_CONNECTIONS = [
    ("okta", "Acme Okta (demo)", {"domain": "acme.okta.com", "client_id": "0oa-demo"}),
    (
        "entra",
        "Acme Entra ID (demo)",
        {"tenant_id": "7d3c1b5e-2f4a-4c8e-9a61-5b0e8f2d4c19", "client_id": "demo-app"},
    ),
]


def seed_demo_connections() -> list:
    """The demo Okta and Entra connections, each linked to its demo IdP's issuer."""
    made = []
    for kind, name, config in DEMO_CONNECTIONS:
        issuers = [idp["issuer"] for idp in IDPS if idp["style"] == kind]
        made.append(ensure_demo_connection(kind=kind, name=name, config=config, issuers=issuers))
    return made
