"""Celery tasks for findings: thin, safe to run twice (the rule run is idempotent and locked)."""

from celery import shared_task

from governance.findings.rules import run_scheduled_rules_exclusively


@shared_task(name="governance.findings.tasks.run_rules")
def run_rules(kinds: list[str] | None = None) -> dict | None:
    """Beat (and the end of an IdP sync): run the finding rules, or skip when a run is on."""
    return run_scheduled_rules_exclusively(kinds=kinds)
