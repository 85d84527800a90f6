"""Browser tests: Playwright for Python driving the machine's Chromium (no browser download)
against the production web server (Granian, tests/web_server.py) over demo-like data.

Chromium is PLAYWRIGHT_CHROMIUM, else `chromium` / `chromium-browser` on PATH (Debian's package;
`.ci/run` installs it). Without one, or without playwright, every test here is skipped with the
reason, and pytest's summary (`-ra` in pytest.ini) says how many.

The data is seeded once for the whole folder and committed (the web server is another process),
and the database is emptied again after it; the server and the browser are also started once.
Each tab fixture asks for `db`, so pytest-django creates the test database for these tests.

A failing test leaves a screenshot of its page under VAR_DIR/test-artifacts/browser/ (or
BROWSER_ARTIFACTS_DIR); the path is printed with the failure.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.db import connections

from governance.platform import localfiles
from tests.browser import seed
from tests.browser.chromium import playwright_and_chromium
from tests.web_server import WebServer

PASSWORD = seed.PASSWORD
# How long a step or an expectation may wait: generous on a shared 2-core machine (a step that
# succeeds does not wait for it).
TIMEOUT_MS = 15_000


def artifacts_dir() -> Path:
    path = os.environ.get("BROWSER_ARTIFACTS_DIR")
    return Path(path) if path else localfiles.var_dir() / "test-artifacts" / "browser"


@pytest.fixture(scope="package")
def chromium():
    """(playwright.sync_api, Chromium path), or every test here skips saying why."""
    return playwright_and_chromium()


@pytest.fixture(scope="package")
def demo(chromium, django_db_setup, django_db_blocker):
    """Demo data at a small scale plus known rows the tests click through, committed; the
    facts the tests need (names, ids) as a dict. The database is emptied afterwards."""
    with django_db_blocker.unblock():
        facts = seed.seed()
    yield facts
    with django_db_blocker.unblock():
        seed.empty_database()


@pytest.fixture(scope="package")
def web(demo):
    """The production web server (tests/web_server.py) over the seeded data."""
    server = WebServer(workers=1)
    yield server
    server.kill()


@pytest.fixture(scope="package")
def browser(chromium, demo, web):
    """One Chromium for the folder."""
    sync_api, path = chromium
    # Playwright's sync API keeps an asyncio loop running in this thread, and Django then
    # refuses every ORM call (pytest-django's per-test transaction included) as if from async
    # code. The calls are synchronous, in this one thread: Django's documented escape hatch.
    with pytest.MonkeyPatch.context() as patch, sync_api.sync_playwright() as pw:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        sync_api.expect.set_options(timeout=TIMEOUT_MS)
        browser = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield browser
        browser.close()
        # While the loop runs Django keeps its connections apart from the thread's own (per
        # async context): close those here, or the test database could not be dropped.
        connections.close_all()


@pytest.fixture(scope="package")
def signed_in_state(browser, web, demo):
    """The cookies of an Admin signed in through the login form, for the tests' pages."""
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, web.url, demo["admin"], PASSWORD)
    page.wait_for_url(web.url + "/")
    state = context.storage_state()
    context.close()
    return state


def sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


class Console:
    """A browser tab on the console: `page` (Playwright's) and the errors it logged."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.url = base_url
        self.errors: list[str] = []
        page.on(
            "console",
            lambda m: m.type == "error" and self.errors.append(f"{page.url}: {m.text}"),
        )
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))

    def go(self, path: str):
        return self.page.goto(self.url + path)


def _new_console(browser, base_url, state=None) -> Console:
    # 1,400 px: the width the table defects were measured at.
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, storage_state=state, accept_downloads=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    return Console(context.new_page(), base_url)


@pytest.fixture
def console(browser, web, signed_in_state, db):
    """A fresh tab signed in as the demo Admin; closed after the test."""
    tab = _new_console(browser, web.url, signed_in_state)
    yield tab
    tab.page.context.close()


@pytest.fixture
def anonymous(browser, web, demo, db):
    """A fresh tab with no session."""
    tab = _new_console(browser, web.url)
    yield tab
    tab.page.context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        tab = item.funcargs.get("console") or item.funcargs.get("anonymous")
        if isinstance(tab, Console):
            _screenshot(item, report, tab)
    return report


def _screenshot(item, report, tab: Console) -> None:
    folder = artifacts_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^\w.-]+", "_", item.nodeid.split("::", 1)[-1]) + ".png")
    try:
        tab.page.screenshot(path=str(path), full_page=True)
    except Exception as exc:  # a crashed page: say so rather than hide the test's own failure
        report.sections.append(("screenshot", f"none: {exc}"))
        return
    report.sections.append(("screenshot", f"{path} (page {tab.page.url})"))
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"\nscreenshot of the failed page: {path}")


def pytest_terminal_summary(terminalreporter):
    """One line saying how many browser tests were skipped and why (no Chromium, most often)."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if report.nodeid.startswith("tests/browser/")
    ]
    if skipped:
        reason = skipped[0].longrepr[2] if isinstance(skipped[0].longrepr, tuple) else ""
        reason = reason.removeprefix("Skipped: ").removeprefix("browser tests: ")
        terminalreporter.write_line(f"browser tests: {len(skipped)} skipped ({reason})")
