"""The demo's first start shows an open access-review campaign with some decisions and a report
schedule, so the reviews and reports pages are not empty; seeding again changes nothing."""

import pytest
from django.core.management import call_command

from governance.access.models import AdminAction
from governance.demo import DEMO_CAMPAIGN, DEMO_CAMPAIGN_CLIENT, DEMO_SCHEDULE
from governance.reports.models import ReportSchedule
from governance.reviews import queries
from governance.reviews.models import Campaign, ReviewItem
from governance.reviews.scope import describe

pytestmark = pytest.mark.django_db


def test_a_fresh_demo_has_an_open_campaign_with_decisions_and_a_schedule(admin_user):
    call_command("seed_demo", "--scale", "0.2")

    campaign = Campaign.objects.get(name=DEMO_CAMPAIGN)
    progress = queries.campaign_progress(campaign)
    assert campaign.status == Campaign.Status.OPEN
    assert progress["decided"] > 0 and progress["pending"] > 0
    assert queries.pending_count(admin_user) == progress["pending"]  # on the admin's queue
    # Its scope is named in words, the client by its name (the page, the record, the report).
    client_id = campaign.scope["client_ids"][0]
    assert (
        describe(campaign.scope) == f"active grants: clients {DEMO_CAMPAIGN_CLIENT} (#{client_id})"
    )
    schedule = ReportSchedule.objects.get(name=DEMO_SCHEDULE)
    assert (schedule.kind, schedule.cadence, schedule.enabled) == (
        "access_inventory",
        "weekly",
        True,
    )


def test_seeding_the_demo_again_adds_no_campaign_decision_or_schedule(admin_user):
    call_command("seed_demo", "--scale", "0.2")
    before = (
        list(ReviewItem.objects.values_list("id", "decision", "decided_at")),
        ReportSchedule.objects.count(),
        AdminAction.objects.count(),
    )

    call_command("seed_demo", "--scale", "0.2")

    after = (
        list(ReviewItem.objects.values_list("id", "decision", "decided_at")),
        ReportSchedule.objects.count(),
        AdminAction.objects.count(),
    )
    assert after == before and Campaign.objects.count() == 1
