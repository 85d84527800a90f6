"""Question (b) as a user clicks it, in Chromium: from the overview to the explorer, type part of
a name, pick the suggestion, narrow to 24 h, follow the row to the person's page and see their
last day of activity there (loaded by htmx). A failure saves a screenshot."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from tests.browser.chromium import playwright_and_chromium
from tests.ingest_helpers import iso, make_event
from tests.ui_factories import identity

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
IDP = "https://idp.example.com"


def test_a_user_finds_what_a_person_did_by_typing_their_name(
    live_server, admin_user, client, tmp_path
):
    sync_api, path = playwright_and_chromium()
    identity("00u-alice", issuer=IDP, display_name="Alice Abbott", email="alice@acme.example")
    source, _ = create_source(name="gw-browser")
    now = datetime.now(UTC)
    ingest_events(
        source=source,
        events=[
            make_event(
                time=iso(now - timedelta(minutes=m)),
                actor={"id": "00u-alice", "type": "human", "idp": IDP},
                tool=f"tool_{m}",
            )
            for m in (5, 10)
        ]
        + [make_event(time=iso(now - timedelta(days=3)), tool="old_call")],
    )
    client.force_login(admin_user)
    cookie = client.cookies["sessionid"].value
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        try:
            page.goto(live_server.url + "/")
            page.click("text=Events, 7 days")  # one click from the overview
            page.locator("input[name=identity]").press_sequentially("abbo", delay=60)
            option = page.locator('#identity-options option[value="alice@acme.example"]')
            option.wait_for(state="attached", timeout=10_000)
            assert "Alice Abbott" in option.text_content()
            page.fill("input[name=identity]", "alice@acme.example")
            page.click("button:has-text('Filter')")
            page.click("nav.quick-ranges >> text=24h")
            page.wait_for_url("**range=24h**")
            rows = page.locator("#event-rows tr")
            assert rows.count() == 2 and "old_call" not in page.content()
            page.locator("#event-rows a:has-text('Alice Abbott')").first.click()
            page.locator("#activity table").wait_for(timeout=10_000)
            activity = page.locator("#activity").text_content()
            assert "2 events in the last 24 hours" in activity and "tool_5" in activity
        except Exception:
            shots = Path(tmp_path)
            page.screenshot(path=str(shots / "explorer-failure.png"), full_page=True)
            print(f"screenshot: {shots / 'explorer-failure.png'}")
            raise
        finally:
            browser.close()
