"""Company sign-in as a person clicks it in Chromium: the console's login page → "Sign in with
Test IdP" → the IdP's own login form and consent page (oidc-provider on 127.0.0.1) → back on the
console, signed in with the role the IdP's groups map to → sign-out at the console and the IdP.
A wrong IdP password stays at the IdP with its message. Skips without Chromium or Node."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from governance.access.roles import user_role
from tests.browser.chromium import playwright_and_chromium

pytestmark = [pytest.mark.slow]

TIMEOUT_MS = 15_000


@pytest.fixture
def browser_page(tmp_path):
    sync_api, path = playwright_and_chromium()
    # Playwright runs an event loop in this thread; the live server's ORM calls in the test body
    # are synchronous and safe here (Django's documented switch for such test code).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    errors: list[str] = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            try:
                yield page, errors
            except Exception:
                page.screenshot(path=str(tmp_path / "sso.png"), full_page=True)
                raise
            finally:
                browser.close()
                # The test's own ORM calls ran beside Playwright's loop: their connection is
                # closed here, or the test database could not be dropped at the end.
                connections.close_all()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def test_a_person_signs_in_through_the_company_idp_and_out_again(sso_console, browser_page):
    console_url, idp = sso_console
    page, errors = browser_page
    alice = idp.users["alice"]  # in "mcp-admins" at the IdP

    page.goto(f"{console_url}/inventory/grants/")  # a deep link: sign in first
    page.click("text=Sign in with Test IdP")
    page.wait_for_url(f"{idp.issuer}/**")  # the IdP's own login form, not the console's
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "not her password")
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("text=Wrong username or password.")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", alice["password"])
    page.click("button:has-text('Sign in')")
    page.click("button:has-text('Allow')")  # the IdP's consent page
    page.wait_for_url(f"{console_url}/inventory/grants/**")
    assert page.locator("header").get_by_text("Admin", exact=True).count() == 1

    user = get_user_model().objects.get(email=alice["email"])
    assert user_role(user) == "Admin"

    page.click("text=Log out")
    page.wait_for_url(f"{idp.issuer}/**")  # the IdP asks whether to end its session too
    page.click("button[name=logout][value=yes], button[autofocus]")
    page.wait_for_url(f"{console_url}/accounts/login/**")
    page.goto(f"{console_url}/inventory/grants/")
    assert "/accounts/login/" in page.url  # the console session is gone
    assert errors == []
