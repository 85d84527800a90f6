"""Signing in with a local account, and the overview's charts drawing in Chromium."""

import pytest

from tests.browser.conftest import PASSWORD, sign_in

expect = pytest.importorskip("playwright.sync_api").expect  # skipped without playwright


def test_a_user_signs_in_with_the_login_form_and_lands_on_the_overview(anonymous, demo):
    page = anonymous.page
    anonymous.go("/inventory/grants/")  # a deep link: the login page, then back to it
    expect(page).to_have_title("Log in · MCP Governance Console")
    page.get_by_label("Username").fill(demo["viewer"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(anonymous.url + "/inventory/grants/")
    expect(page.locator("header .who")).to_contain_text(f"{demo['viewer']} Viewer")
    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_title("Log in · MCP Governance Console")
    assert anonymous.errors == []


def test_a_wrong_password_says_so_and_lets_no_one_in(anonymous, demo):
    page = anonymous.page
    sign_in(page, anonymous.url, demo["viewer"], "not-the-password")
    expect(page.locator("p.error")).to_have_text(
        "Your username and password didn't match. Please try again."
    )
    expect(page.get_by_label("Username")).to_have_value(demo["viewer"])
    expect(page.locator("header nav")).to_have_count(0)
    anonymous.go("/")
    expect(page).to_have_title("Log in · MCP Governance Console")


def test_the_overview_draws_each_chart_with_the_small_gzipped_plotly_under_the_csp(console):
    page = console.page
    with page.expect_response(lambda r: "/vendor/plotly/" in r.url) as plotly_js:
        response = console.go("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert plotly_js.value.url.endswith("/plotly-basic.min.js")
    assert plotly_js.value.headers["content-encoding"] == "gzip"
    charts = page.locator("main .plotly-graph-div")
    # events, top tools, findings by severity, grants, tasks, registrations, clients, protocol
    # revisions, capabilities
    expect(charts).to_have_count(9)
    # charts.js drew every one: plotly's svg is in each chart's div, and no figure is left over.
    expect(page.locator("main .plotly-graph-div .main-svg").first).to_be_visible()
    for n in range(9):
        expect(charts.nth(n).locator("svg.main-svg").first).to_be_attached()
    expect(page.locator("[data-plotly-figure]")).to_have_count(0)
    expect(charts.nth(2).locator("g.trace.bars")).not_to_have_count(0)  # findings by severity
    expect(charts.nth(3).locator("g.trace.bars")).not_to_have_count(0)  # grants: stacked bars
    expect(charts.nth(5).locator("g.slice")).not_to_have_count(0)  # registrations: a donut
    assert console.errors == [], console.errors  # a CSP refusal is a console error
