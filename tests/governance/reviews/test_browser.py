"""An access review as an Admin clicks it in Chromium against the live server: the empty
campaigns page -> New campaign -> the campaign page -> My reviews, where a row refuses to keep
what is recommended for revocation without a justification and then keeps it, in place (htmx)
-> a bulk decision on the filtered queue -> Close… -> the frozen record. No console error (the
CSP allows no inline script). SCREENSHOTS_DIR keeps a screenshot of every step."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from governance.celery import app
from governance.reviews.models import Campaign
from tests.browser.chromium import playwright_and_chromium

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def eager_tasks():
    """Closing's finishing task runs in place (no worker here; nothing to revoke)."""
    old, app.conf.task_always_eager = app.conf.task_always_eager, True
    yield
    app.conf.task_always_eager = old


def test_an_admin_runs_a_review_from_the_empty_page_to_the_frozen_record(
    live_server, estate, admin_user, client, tmp_path, eager_tasks
):
    sync_api, path = playwright_and_chromium()
    admin_user.email = "ada@acme.example"
    admin_user.save()
    client.force_login(admin_user)
    cookie = client.cookies["sessionid"].value
    shots = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"reviews-{name}.png"), full_page=True)

        try:
            page.goto(f"{live_server.url}/governance/reviews/")
            page.wait_for_selector("text=No access reviews yet.")
            shot("1-empty")
            page.click("a.button:has-text('New campaign')")
            page.fill("input[name=name]", "Q4 agent access")
            page.select_option("select[name=reviewer_rule]", "named")
            page.select_option("select[name=reviewers]", label="ada-admin (ada@acme.example)")
            shot("2-form")
            page.click("button:has-text('Open campaign')")
            page.wait_for_selector("text=0 of 4")
            shot("3-campaign")

            page.goto(f"{live_server.url}/governance/reviews/mine/")
            row = page.locator("tr", has_text="Not used for 120 days")
            row.locator("select[name=decision]").select_option("keep")
            row.locator("button[type=submit]").click()
            page.wait_for_selector("text=say why it stays")
            shot("4-refused")
            row = page.locator("tr", has_text="Not used for 120 days")
            assert row.locator("select[name=decision]").input_value() == "keep"  # as chosen
            row.locator("input[name=justification]").fill("month-end batch job")
            row.locator("button[type=submit]").click()
            page.wait_for_selector("tr:has-text('month-end batch job') .badge.b-keep")

            page.select_option("select[name=recommendation]", "keep")  # htmx: the queue swaps
            page.wait_for_selector("text=Decide all 2 items")
            page.check("input[name=decision][value=keep]")
            page.click("button:has-text('Apply to 2')")
            page.wait_for_selector("text=2 items decided.")
            shot("5-queue")

            page.goto(f"{live_server.url}/governance/reviews/")
            page.click("text=Q4 agent access")
            page.wait_for_selector("text=3 of 4")
            campaign = page.url
            page.click("text=Close campaign…")
            page.wait_for_selector("text=1 item not decided")
            shot("6-close")
            page.click("button:has-text('Close and carry out the decisions')")
            page.wait_for_url(campaign)  # the close answers with the campaign's page
            page.click("text=Frozen record")
            page.wait_for_selector("text=matches the record")
            shot("7-record")
            page.goto(f"{live_server.url}/")
            shot("8-overview")
        except Exception:
            shot("failure")
            raise
        finally:
            browser.close()
    assert Campaign.objects.get().status == "closed"
    assert [e for e in errors if "status of 400" not in e] == []
