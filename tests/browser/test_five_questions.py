"""The security team's questions, clicked through as a user would, from the overview:
(a) which agent acts for whom, on which server, with which scopes; (b) what an identity did;
(c) what is still running, and who started it."""

import csv
import re

import pytest

from tests.browser.seed import EVENTS, LAST_HOUR, SCOPE

expect = pytest.importorskip("playwright.sync_api").expect  # skipped without playwright


def _open_alice(console, demo):
    """Overview → Identities → type her name → her page."""
    page = console.page
    console.go("/")
    page.get_by_role("navigation").get_by_role("link", name="Identities").click()
    page.get_by_role("searchbox", name="Search").fill("Alice Abbott")  # htmx, as one types
    expect(page.locator("#results p.summary")).to_have_text("1 identity")
    # Typing sends a request per pause: a later answer swapping #results would swallow a click
    # on the row an earlier one drew. Click once the last one has landed.
    page.wait_for_load_state("networkidle")
    page.locator("#results").get_by_role("link", name=demo["alice"]["name"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(demo["alice"]["name"])


def test_leaving_the_search_box_does_not_search_again_under_the_users_click(console):
    """Typing searched already; the blur that clicking a result causes must not send the query a
    second time (its late answer would redraw the results and swallow the click)."""
    page = console.page
    console.go("/inventory/identities/")
    search = page.get_by_role("searchbox", name="Search")
    search.fill("Alice Abbott")
    expect(page.locator("#results p.summary")).to_have_text("1 identity")
    page.wait_for_load_state("networkidle")
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/inventory/identities/" in r.url else None)
    search.blur()  # the browser fires "change" here; the form's trigger on it has no delay
    page.wait_for_timeout(600)  # ample for a request to leave; none may
    assert asked == []
    with page.expect_response(lambda r: "/inventory/identities/" in r.url):
        page.get_by_role("button", name="Apply").click()  # one deliberate query, still works
    assert len(asked) == 1, asked


def test_a_from_a_person_to_their_agents_servers_and_scopes_then_who_else_holds_one(console, demo):
    page = console.page
    _open_alice(console, demo)
    agent = page.locator("#agents article.agent-group").filter(
        has=page.get_by_role("heading", name=re.compile(demo["agent"]["name"]))
    )
    expect(agent).to_have_count(1)
    expect(agent.get_by_role("link", name=demo["server"]["name"]).first).to_be_visible()
    expect(agent.locator("dd.scopes code")).to_have_text([SCOPE, "tickets:read"])
    agent.locator("dd.scopes").get_by_role("link", name=SCOPE).click()  # who else holds it?
    expect(page.locator("#results p.summary")).to_have_text("1 grant")
    expect(page.get_by_label(re.compile(r"^holds the scope", re.I))).to_have_value(SCOPE)
    row = page.locator("#results tbody tr")
    expect(row.get_by_role("link", name=demo["alice"]["name"])).to_be_visible()
    row.get_by_role("link", name=demo["agent"]["name"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(demo["agent"]["name"])
    acts_for = page.locator("section").filter(has=page.get_by_role("heading", name="Acts for"))
    expect(acts_for.get_by_role("link", name=demo["alice"]["name"])).to_be_visible()
    assert console.errors == []


def test_a_who_holds_a_scope_the_grants_list_filtered_by_that_scope(console, demo):
    page = console.page
    console.go("/")
    page.get_by_role("navigation").get_by_role("link", name="Grants").click()
    everyone = page.locator("#results p.summary").inner_text()
    page.get_by_label(re.compile(r"^holds the scope", re.I)).fill(SCOPE)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#results p.summary")).to_have_text("1 grant")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name=demo["alice"]["name"])).to_be_visible()
    expect(page).to_have_url(re.compile(f"scope={re.escape(SCOPE.replace(':', '%3A'))}"))
    assert everyone != "1 grant"  # the filter narrowed a list of many
    assert console.errors == []


def test_b_a_persons_last_day_on_their_page_then_in_the_explorer_page_by_page_and_exported(
    console, demo
):
    page, alice = console.page, demo["alice"]
    _open_alice(console, demo)
    activity = page.locator("#activity")  # loaded by htmx after the page
    expect(activity).to_contain_text(f"{EVENTS} events in the last 24 hours")
    expect(activity.locator("tbody tr")).to_have_count(10)
    expect(activity.locator("tbody tr").first).to_contain_text(demo["agent"]["name"])
    activity.get_by_role("link", name="all in the explorer →").click()

    expect(page).to_have_url(re.compile(r"range=24h"))
    rows = page.locator("#event-rows tr:not(#more)")
    expect(rows).to_have_count(50)
    expect(rows.locator("td:nth-child(3)")).to_have_text([alice["name"]] * 50)  # names, linked
    older = page.get_by_role("link", name="Older events →")
    older.click()  # htmx appends the next page in place
    expect(rows).to_have_count(100)
    older.click()
    expect(rows).to_have_count(EVENTS)
    expect(older).to_have_count(0)  # the last page offers no more

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert re.fullmatch(r"audit-events-\d{8}T\d{6}Z\.csv", download.value.suggested_filename)
    with open(download.value.path(), newline="") as exported:
        table = list(csv.DictReader(exported))
    assert len(table) == EVENTS and {r["actor_subject"] for r in table} == {alice["subject"]}
    rows.first.get_by_role("link", name=alice["name"]).click()  # back to her page
    expect(page.get_by_role("heading", level=1)).to_have_text(alice["name"])
    assert console.errors == []


def test_b_the_explorer_takes_an_e_mail_and_a_quick_range(console, demo):
    page = console.page
    console.go("/")
    page.get_by_role("navigation").get_by_role("link", name="Audit").click()
    page.get_by_label("Identity").fill("alice@acme.example")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"identity=alice%40acme\.example"))  # the filtered page
    rows = page.locator("#event-rows tr:not(#more)")
    expect(rows).to_have_count(50)
    ranges = page.get_by_role("navigation", name="Quick ranges")
    ranges.get_by_role("link", name="1h").click()
    expect(rows).to_have_count(LAST_HOUR)
    expect(ranges.get_by_role("link", name="1h")).to_have_attribute("aria-current", "true")
    expect(page.get_by_label("Identity")).to_have_value("alice@acme.example")
    expect(page.get_by_role("link", name="Older events →")).to_have_count(0)
    assert console.errors == []


def test_c_running_tasks_and_tasks_past_their_ttl_apart_with_who_started_them(console, demo):
    page, alice = console.page, demo["alice"]["name"]
    console.go("/")
    starters = page.locator("#task-starters tbody tr").filter(has_text=alice)
    expect(starters).to_have_count(1)
    expect(starters.get_by_role("link", name=demo["agent"]["name"])).to_be_visible()
    expect(starters.locator("td.num")).to_have_text(["2", "2"])  # running, past TTL

    starters.locator("td.num").nth(1).get_by_role("link").click()  # her tasks past their TTL
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator(".badge")).to_have_text(["expired · was working"] * 2)
    expect(rows.filter(has_text=demo["stale"]["task_id"])).to_have_count(1)

    page.get_by_role("link", name="Overview").click()
    page.get_by_role("link", name=re.compile(r"^\d+\s*Running tasks$")).click()
    running = rows.filter(has_text=demo["running"]["task_id"])
    expect(running).to_have_count(1)
    expect(rows.filter(has_text=demo["stale"]["task_id"])).to_have_count(0)
    expect(running.locator(".badge")).to_have_text("Working")
    expect(running.get_by_role("link", name=alice)).to_be_visible()  # who started it
    assert console.errors == []
