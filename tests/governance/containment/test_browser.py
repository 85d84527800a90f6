"""The revoke flow as an Admin clicks it in Chromium, against the live server and a scripted
authorization server on 127.0.0.1: identity page -> "Revoke all for this client…" -> the dry run
-> a refused empty reason -> confirm -> the revocation's page, done and verified, no longer
polling; no console error (the CSP allows no inline script)."""

from __future__ import annotations

import pytest

from governance.containment.models import Revocation
from inventory.models import Grant
from tests.browser.chromium import playwright_and_chromium
from tests.governance.containment.conftest import inventory, oauth_connection
from tests.governance.containment.peer import RevocationPeer, grant_record

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def peer():
    server = RevocationPeer([grant_record("g-1"), grant_record("g-2")]).start()
    yield server
    server.stop()


def test_an_admin_revokes_what_an_identity_granted_an_agent_and_sees_it_verified(
    live_server, admin_user, client, peer, tmp_path
):
    sync_api, path = playwright_and_chromium()
    oauth_connection(peer.url, grants_url=f"{peer.url}/admin/grants")
    rows = inventory(peer.url, ["g-1", "g-2"])
    client.force_login(admin_user)
    cookie = client.cookies["sessionid"].value
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        try:
            page.goto(f"{live_server.url}/inventory/identities/{rows.alice.pk}/")
            page.click("text=Revoke all for this client…")
            page.wait_for_selector("text=dry run: nothing has been called yet")
            assert page.inner_text(".dry-run .card >> nth=0").split() == ["2", "grants"]
            page.fill("textarea[name=reason]", "   ")  # passes the browser's `required`
            page.click("button.bad")
            page.wait_for_selector("text=Reason is required")
            page.fill("textarea[name=reason]", "offboarding, HR-7")
            page.click("button.bad")
            page.wait_for_selector("text=Every step succeeded and the IdPs confirm it.")
            assert page.locator("#revocation-progress[hx-get]").count() == 0  # stopped polling
            # One revoke_user_client call for the pair, and its "nothing listed any more" check.
            assert page.locator("table.steps .badge.b-verified").count() == 1
        except Exception:
            page.screenshot(path=str(tmp_path / "revoke-flow.png"), full_page=True)
            raise
        finally:
            browser.close()
    # (The ORM is called only out of playwright's context: it runs an event loop.)
    revocation = Revocation.objects.get()  # the empty reason started nothing
    assert revocation.reason == "offboarding, HR-7"
    assert page.url.endswith(f"/governance/revocations/{revocation.pk}/")
    assert peer.deletes == {"g-1": 1, "g-2": 1}
    assert set(Grant.objects.values_list("status", flat=True)) == {"revoked"}
    # The refused reason answers 400 on purpose; Chromium logs any 4xx page load as an error.
    assert [e for e in errors if "status of 400" not in e] == []
