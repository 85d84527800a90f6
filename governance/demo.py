"""The demo deployment across apps: inventory first, then a week of audit events through ingest.

Cross-app orchestration lives here because governance may import both inventory and audit, while
inventory must not import audit (audit's ingest derives inventory state, so audit sits above it).
Each app keeps its own demo content: `inventory/services/demo.py` and `audit/demo.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.demo import seed_demo_events
from inventory.services.demo import DemoSummary, build_demo, demo_anchor


@dataclass
class DemoSeeded:
    """What one seeding run built: the inventory summary and how many audit events were new."""

    inventory: DemoSummary
    new_events: int


def seed_demo(*, seed: int = 42, scale: float = 1.0) -> DemoSeeded:
    """Build the deterministic demo (safe to run again: a second run changes nothing)."""
    summary = build_demo(seed=seed, scale=scale)
    # A week of tool calls through the real ingest path, so the explorer and charts have data.
    new_events = seed_demo_events(seed=seed, scale=scale, anchor=demo_anchor())
    return DemoSeeded(inventory=summary, new_events=new_events)
