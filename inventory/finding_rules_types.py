"""The shapes of the finding rule catalogue (inventory/finding_rules.py), in their own module so
the catalogue's parts (inventory/finding_rules_discovery.py) can build rules without importing
the catalogue that appends them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Threshold:
    name: str
    default: int | float | str | list
    help: str
    minimum: int | float | None = None


@dataclass(frozen=True)
class Rule:
    kind: str
    title: str
    severity: str  # info, warning, high, critical
    why: str
    clears: str
    runs: str  # ingest, crawl, schedule
    object_type: str  # e.g. "inventory.identity"
    thresholds: tuple[Threshold, ...] = field(default_factory=tuple)
