"""The demo deployment across apps: inventory first, then a week of audit events through ingest.

Cross-app orchestration lives here because governance may import both inventory and audit, while
inventory must not import audit (audit's ingest derives inventory state, so audit sits above it).
Each app keeps its own demo content: `inventory/services/demo.py` and `audit/demo.py`; the demo
IdP connections (labelled demo, no credential) are made here, linked to the demo grants' issuers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from audit.demo import seed_demo_events
from governance.access.roles import ADMIN
from governance.findings.rules import run_scheduled_rules
from governance.idp.connections import ensure_demo_connection
from governance.reports import schedules
from governance.reports.models import ReportSchedule
from governance.reviews import services as reviews
from governance.reviews.models import Campaign
from inventory.models import Client
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
    seed_demo_compliance()
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


DEMO_CAMPAIGN = "Warehouse ETL loader access review (demo)"
DEMO_CAMPAIGN_CLIENT = "Warehouse ETL loader"
DEMO_DECIDED = {"keep": 4, "revoke": 2}  # decisions the demo campaign starts with
DEMO_SCHEDULE = "Weekly access inventory (demo)"


def seed_demo_compliance() -> None:
    """One open access-review campaign with a few decisions and one weekly report schedule, so
    the reviews and reports pages are not empty on first start. Reviewers are console users:
    the first admin (bootstrap_console makes it before seeding); without one, nothing is made.
    Each is made once, found by its name afterwards."""
    admins = get_user_model().objects.filter(Q(is_superuser=True) | Q(groups__name=ADMIN))
    admin = admins.filter(is_active=True).order_by("pk").first()
    if admin is None:
        return
    if not Campaign.objects.filter(name=DEMO_CAMPAIGN).exists():
        _seed_demo_campaign(admin)
    if not ReportSchedule.objects.filter(name=DEMO_SCHEDULE).exists():
        schedules.create_schedule(
            actor=admin,
            name=DEMO_SCHEDULE,
            kind="access_inventory",
            format="pdf",
            cadence=ReportSchedule.Cadence.WEEKLY,
            params={},
            email_to="",
            enabled=True,
        )


def _seed_demo_campaign(admin) -> None:
    client = Client.objects.filter(name=DEMO_CAMPAIGN_CLIENT).order_by("pk").first()
    if client is None or not client.grants.filter(status="active").exists():
        return  # a demo seeded smaller than usual: nothing to review
    campaign = reviews.open_campaign(
        actor=admin,
        name=DEMO_CAMPAIGN,
        description="A demo campaign: the nightly ETL agent's grants, reviewed by the admin.",
        scope={"client_ids": [client.pk]},
        reviewer_rule=Campaign.ReviewerRule.NAMED,
        reviewers=[admin],
        due_at=timezone.now() + timedelta(days=14),
        remind_days_before=[7, 1],
    )
    # Some of each: the first items the console says to keep are kept, the first it says to
    # revoke are revoked (carried out when an Admin closes the campaign).
    for recommendation, count in DEMO_DECIDED.items():
        for item in campaign.items.filter(recommendation=recommendation).order_by("id")[:count]:
            reviews.decide(
                item=item,
                by=admin,
                decision=recommendation,
                justification="Demo: the owner confirmed the nightly load still needs it."
                if recommendation == "keep"
                else "",
            )
