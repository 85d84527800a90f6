"""Which Chromium the browser tests drive (tests/browser, tests/governance/test_csp.py)."""

import os
import shutil

import pytest


def chromium_path() -> str | None:
    """PLAYWRIGHT_CHROMIUM, else the Chromium on PATH (Debian's `chromium`); None if neither."""
    return os.environ.get("PLAYWRIGHT_CHROMIUM") or (
        shutil.which("chromium") or shutil.which("chromium-browser")
    )


def playwright_and_chromium():
    """(playwright.sync_api, Chromium's path) for a browser test, or the test is skipped saying
    which of the two is missing."""
    try:
        from playwright import sync_api
    except ImportError:
        pytest.skip("browser tests: playwright is not installed (requirements.txt)")
    path = chromium_path()
    if not path:
        pytest.skip(
            "browser tests: no Chromium found (install Debian's chromium package, as .ci/run "
            "does, or set PLAYWRIGHT_CHROMIUM)"
        )
    if not os.access(path, os.X_OK):
        pytest.skip(f"browser tests: PLAYWRIGHT_CHROMIUM={path} is not an executable")
    return sync_api, path
