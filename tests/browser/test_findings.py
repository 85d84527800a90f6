"""Findings triage as an Admin clicks it: the top bar's Findings, the list filtered to a rule,
the finding's page with its evidence, Acknowledge with a note, and the history saying who."""

import re

import pytest

from inventory.models import Client, Finding, Grant
from inventory.services.flags import raise_flag

expect = pytest.importorskip("playwright.sync_api").expect  # skipped without playwright

KIND = "client.blocked_with_grants"


@pytest.fixture(scope="module")
def blocked_agent_finding(demo, django_db_blocker):
    """A finding on the demo's agent, committed where the web server sees it."""
    with django_db_blocker.unblock():
        agent = Client.objects.get(pk=demo["agent"]["pk"])
        finding = raise_flag(
            kind=KIND,
            obj=agent,
            severity="high",
            summary=f"Blocked client {agent} still holds 1 active grant",
            details={"grant_ids": [demo["grant"]["pk"]], "active_grants": 1},
        )
    yield finding
    with django_db_blocker.unblock():
        Finding.objects.filter(pk=finding.pk).delete()


def test_an_admin_finds_a_finding_opens_it_and_acknowledges_it(
    console, demo, blocked_agent_finding
):
    page = console.page
    console.go("/")
    page.get_by_role("navigation").get_by_role("link", name="Findings").click()
    expect(page.locator("#results p.summary")).to_contain_text("needing attention")
    page.locator(".facets").get_by_role("link", name=re.compile(re.escape(KIND))).click()
    expect(page).to_have_url(re.compile(f"kind={re.escape(KIND)}"))
    # The demo's own rule run may have found other blocked clients: ours is the one row of them.
    ours = page.locator("#results tbody tr").filter(has_text="still holds 1 active grant")
    expect(ours).to_have_count(1)
    ours.get_by_role("link", name=re.compile("still holds 1 active")).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("still holds 1 active grant")
    grant = Grant.objects.get(pk=demo["grant"]["pk"])
    expect(page.locator("#evidence").get_by_role("link", name=str(grant))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Revoke: kill switch"))).to_be_visible()
    page.get_by_label("Acknowledge note").fill("ticket SEC-9")
    page.get_by_role("button", name="Acknowledge").click()

    expect(page.locator("ul.messages")).to_have_text(
        f"Finding #{blocked_agent_finding.pk} acknowledged."
    )
    expect(page.locator("dl.facts")).to_contain_text("Acknowledged by ada-admin")
    last = page.locator("#history tbody tr").last
    expect(last).to_contain_text("ada-admin")
    expect(last).to_contain_text("ticket SEC-9")
    assert console.errors == []
