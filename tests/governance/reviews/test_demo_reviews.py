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
from tests.browser.chromium import playwright_and_chromium

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


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_demo_campaign_and_queue_fit_a_1400_px_window(live_server, admin_user, client):
    """The demo's rows carry the widest cells (expiries, several findings, justifications): no
    column of the campaign's items or of the queue is cut off behind a scrollbar."""
    sync_api, path = playwright_and_chromium()
    call_command("seed_demo", "--scale", "0.2")
    campaign = Campaign.objects.get(name=DEMO_CAMPAIGN)
    client.force_login(admin_user)
    cookie = client.cookies["sessionid"].value
    widths = {}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        for url in (f"/governance/reviews/{campaign.pk}/", "/governance/reviews/mine/"):
            page.goto(live_server.url + url, wait_until="networkidle")
            widths[url] = page.evaluate(
                "() => [...document.querySelectorAll('.table-scroll')]"
                ".map(d => [d.scrollWidth, d.clientWidth])"
            )
        browser.close()
    for url, boxes in widths.items():
        assert boxes and all(scroll <= box for scroll, box in boxes), (url, boxes)
