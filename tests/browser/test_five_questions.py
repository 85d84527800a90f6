"""The security team's questions, clicked through as a user would, from the overview:
(a) which agent acts for whom, on which server, with which scopes; (b) what an identity did;
(c) what is still running, and who started it."""

import csv
import re

import pytest

from tests.browser.seed import EVENTS, SCOPE

expect = pytest.importorskip("playwright.sync_api").expect  # skipped without playwright


def _section(page, heading: str):
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading))


def test_a_from_a_person_to_the_agents_acting_for_them_their_servers_and_scopes(console, demo):
    page, alice = console.page, demo["alice"]
    console.go("/")
    page.get_by_role("navigation").get_by_role("link", name="Identities").click()
    page.get_by_role("searchbox", name="Search").fill("Alice Abbott")  # htmx, as one types
    expect(page.locator("#results p.summary")).to_have_text("1 identity")
    page.locator("#results").get_by_role("link", name=alice["name"]).click()

    agents = _section(page, re.compile(f"^Agents acting for {alice['name']}"))
    row = agents.locator("tbody tr").filter(has_text=demo["agent"]["name"])
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name=demo["server"]["name"])).to_be_visible()
    expect(row.locator("td.scopes code")).to_have_text(["tickets:read", SCOPE])
    row.get_by_role("link", name=demo["agent"]["name"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(demo["agent"]["name"])
    acts_for = _section(page, "Acts for")
    expect(acts_for.get_by_role("link", name=alice["name"])).to_be_visible()
    assert console.errors == []


def test_a_who_holds_a_scope_the_grants_list_filtered_by_that_scope(console, demo):
    page = console.page
    console.go("/")
    page.get_by_role("navigation").get_by_role("link", name="Grants").click()
    everyone = page.locator("#results p.summary").inner_text()
    page.get_by_label("holds the scope (exact)").fill(SCOPE)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#results p.summary")).to_have_text("1 grant")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name=demo["alice"]["name"])).to_be_visible()
    expect(page).to_have_url(re.compile(f"scope={re.escape(SCOPE.replace(':', '%3A'))}"))
    assert everyone != "1 grant"  # the filter narrowed a list of many
    assert console.errors == []


def test_b_an_identitys_events_in_the_explorer_page_by_page_then_exported(console, demo):
    page = console.page
    console.go("/")
    page.get_by_role("navigation").get_by_role("link", name="Audit").click()
    page.get_by_label("Identity").fill(demo["alice"]["subject"])
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#event-rows tr:not(#more)")
    expect(rows).to_have_count(50)
    older = page.get_by_role("link", name="Older events →")
    older.click()  # htmx appends the next page in place
    expect(rows).to_have_count(100)
    older.click()
    expect(rows).to_have_count(EVENTS)
    expect(older).to_have_count(0)  # the last page offers no more
    expect(rows.locator("td:nth-child(3)")).to_have_text([demo["alice"]["subject"]] * EVENTS)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert re.fullmatch(r"audit-events-\d{8}T\d{6}Z\.csv", download.value.suggested_filename)
    with open(download.value.path(), newline="") as exported:
        table = list(csv.DictReader(exported))
    assert len(table) == EVENTS
    assert {r["actor_subject"] for r in table} == {demo["alice"]["subject"]}
    assert console.errors == []


def test_c_running_tasks_and_tasks_past_their_ttl_apart_with_who_started_them(console, demo):
    page, running, stale = console.page, demo["running"]["task_id"], demo["stale"]["task_id"]
    console.go("/")
    page.get_by_role("link", name=re.compile(r"^\d+\s*Running tasks$")).click()
    rows = page.locator("#results tbody tr")
    expect(rows.filter(has_text=running)).to_have_count(1)
    expect(rows.filter(has_text=stale)).to_have_count(0)
    expect(rows.filter(has_text=running).locator(".badge")).to_have_text("Working")
    expect(
        rows.filter(has_text=running).get_by_role("link", name=demo["alice"]["name"])
    ).to_be_visible()

    page.get_by_role("link", name="Overview").click()
    page.get_by_role("link", name=re.compile(r"^\d+\s*Expired tasks$")).click()
    expect(rows.filter(has_text=stale)).to_have_count(1)
    expect(rows.filter(has_text=running)).to_have_count(0)
    expect(rows.filter(has_text=stale).locator(".badge")).to_have_text("expired · was working")
    expect(
        rows.filter(has_text=stale).get_by_role("link", name=demo["alice"]["name"])
    ).to_be_visible()
    assert console.errors == []
