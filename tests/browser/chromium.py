"""Which Chromium the browser tests drive (tests/browser, tests/governance/test_csp.py)."""

import os
import shutil


def chromium_path() -> str | None:
    """PLAYWRIGHT_CHROMIUM, else the Chromium on PATH (Debian's `chromium`); None if neither."""
    return os.environ.get("PLAYWRIGHT_CHROMIUM") or (
        shutil.which("chromium") or shutil.which("chromium-browser")
    )
