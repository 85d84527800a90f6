"""The scheduled finding rules (issue 14 §2): every FINDINGS_RULES_INTERVAL_SECONDS beat runs
them all over the whole inventory (and the hourly rollups), so findings open, refresh and, when
their condition no longer holds, resolve themselves; and suppressions whose time passed end.

`SCHEDULED_RULES` is the list of what a run calls: each entry `fn(now)` returns its counts,
{"raised", "resolved", …} for one rule (named by its `kind` attribute, else the function's
name) or {kind: counts} for several. Rules live next to the data they read (the inventory's in
inventory/services/inventory_rules.py, the events' with the rollups); this module only runs
them. Each rule runs in its own transaction: one failing rule is logged and counted, and the
others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from governance.findings import event_rules, spikes
from inventory.models import Finding
from inventory.services import inventory_rules
from inventory.services.finding_reconcile import resolve_all
from inventory.services.flags import TASK_PAST_TTL, acting_as
from inventory.services.inventory_rules import INVENTORY_RULES, run_inventory_rule
from inventory.services.rule_settings import effective_rule

logger = logging.getLogger(__name__)

# The advisory lock two overlapping runs (a slow run and the next beat, a sync's run) share:
# the second one finds it taken and skips rather than fight over the same rows.
LOCK_NAME = "governance.findings.run_rules"


def _inventory_rule(kind: str) -> Callable[[datetime], dict]:
    def run(now: datetime) -> dict:
        return run_inventory_rule(kind, now=now)

    run.kind = kind
    run.__name__ = f"run_{kind.replace('.', '_')}"
    return run


def run_task_past_ttl(now: datetime) -> dict:
    """The task-expiry sweep under the rule's settings (inventory_rules.run_task_past_ttl)."""
    return inventory_rules.run_task_past_ttl(now=now)


run_task_past_ttl.kind = TASK_PAST_TTL


def run_error_spikes(now: datetime) -> dict:
    """Error and denial spikes from the hourly rollups (governance/findings/spikes.py); a rule
    the Admin turned off raises nothing and resolves what it had opened."""
    if not effective_rule(spikes.KIND).enabled:
        return resolve_all(spikes.KIND, why="rule disabled", now=now)
    return spikes.raise_error_spikes(now)


run_error_spikes.kind = spikes.KIND


def _ingest_rule(kind: str) -> Callable[[datetime], dict]:
    """The ingest path (or a crawl) raises `kind`'s findings; a run applies the Admin's
    settings to them (off: resolved; severity) and resolves those that cleared
    (event_rules.py)."""

    def run(now: datetime) -> dict:
        return event_rules.enforce_ingest_rule(kind, now)

    run.kind = kind
    run.__name__ = f"enforce_{kind.replace('.', '_')}"
    return run


SCHEDULED_RULES: list[Callable[[datetime], dict]] = [
    *(_inventory_rule(kind) for kind in INVENTORY_RULES),
    run_task_past_ttl,
    run_error_spikes,
    *(_ingest_rule(kind) for kind in event_rules.ENFORCED_KINDS),
]


def end_suppressions(now: datetime | None = None) -> int:
    """Suppressed findings whose end has passed are open again (history: "suppression ended")."""
    now = now or timezone.now()
    with acting_as("rule", note="suppression ended"):
        return Finding.objects.filter(
            status=Finding.Status.SUPPRESSED, suppressed_until__lte=now
        ).update(status=Finding.Status.OPEN)


def run_scheduled_rules(now: datetime | None = None, *, kinds=None) -> dict[str, dict]:
    """Run every scheduled rule (or those of `kinds`) and end the suppressions that are due:
    {kind: {"raised", "resolved", …}}, plus "suppressions" {"ended"}. A rule that fails is
    logged and reported as {"error": …}; the others still run."""
    now = now or timezone.now()
    results: dict[str, dict] = {}
    for rule in SCHEDULED_RULES:
        name = getattr(rule, "kind", rule.__name__)
        if kinds is not None and name not in kinds:
            continue
        try:
            with transaction.atomic():
                counts = rule(now)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not stop the others
            logger.exception("finding rule %s failed", name)
            results[name] = {"error": str(exc)[:300]}
            continue
        if "raised" in counts or "resolved" in counts:
            results[name] = counts
        else:
            results.update(counts)
    results["suppressions"] = {"ended": end_suppressions(now)}
    return results


@contextmanager
def _exclusive():
    """Hold the run's advisory lock (session-level: rules commit one by one) or yield False."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [LOCK_NAME])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [LOCK_NAME])


def run_scheduled_rules_exclusively(now: datetime | None = None, *, kinds=None) -> dict | None:
    """`run_scheduled_rules` unless another run holds the lock (then None: it does the work)."""
    with _exclusive() as held:
        if not held:
            logger.info("finding rules already running; this run skips")
            return None
        return run_scheduled_rules(now, kinds=kinds)
