"""A form answered with validation errors: it says what is wrong next to the field, keeps what
was typed, and saves once corrected, saying so."""

import pytest

expect = pytest.importorskip("playwright.sync_api").expect  # skipped without playwright


def test_the_registry_form_names_the_wrong_field_keeps_the_input_and_then_saves(console):
    page = console.page
    console.go("/inventory/discovery/")
    page.get_by_role("link", name="Add a registry").click()
    page.get_by_label("Name").fill("Partner registry")
    page.get_by_label("Base url").fill("https://registry.partner.example/v0.1/")
    page.get_by_label("Crawl interval minutes").fill("1")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Save").click()
    assert answer.value.status == 400
    expect(page.locator(".errorlist")).to_have_text(["crawl_interval_minutes must be at least 5."])
    expect(page.get_by_label("Name")).to_have_value("Partner registry")
    expect(page.locator("ul.messages")).to_have_count(0)  # nothing claims it was saved

    page.get_by_label("Crawl interval minutes").fill("60")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("ul.messages")).to_have_text("Registry Partner registry added.")
    row = page.locator("tr").filter(has_text="Partner registry")
    expect(row).to_contain_text("https://registry.partner.example")  # stored without /v0.1
    assert [e for e in console.errors if "400 (Bad Request)" not in e] == []


def test_a_bad_list_filter_says_what_is_wrong_in_place_of_the_table(console):
    """The list answers htmx with a 400 naming the parameter; the page must show it (htmx leaves
    4xx unswapped unless the page's one htmx-config says otherwise), not the stale table."""
    page = console.page
    console.go("/inventory/grants/")
    page.get_by_label("unused for N days").fill("abc")
    with page.expect_response(lambda r: "/inventory/grants/" in r.url) as answer:
        page.get_by_role("button", name="Apply").click()
    assert answer.value.status == 400
    expect(page.locator("#results")).to_contain_text(
        "unused_days: 'abc' is not a whole number of at least 1"
    )
    expect(page.locator("#results table")).to_have_count(0)  # the stale rows are gone
