"""Fixtures of the audit tests."""

import time
from types import SimpleNamespace

import pytest


@pytest.fixture
def mid_minute_clock(monkeypatch):
    """The rate limiter's wall clock held at the middle of a minute: a test counting requests
    in one fixed window must not see the window roll over under it (a new minute starts at 0)."""
    from audit import source_auth

    held = time.time() // 60 * 60 + 30
    monkeypatch.setattr(
        source_auth, "time", SimpleNamespace(time=lambda: held, monotonic=time.monotonic)
    )
    return held
