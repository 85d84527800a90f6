"""pacing.py: reading a rate-limit window against the server's Date, and waiting before (not
after) a request once the window is spent."""

import email.utils

from governance.connectors.pacing import MAX_WAIT_SECONDS, Pacer, Window, window_from_headers

OKTA = {
    "limit": "x-rate-limit-limit",
    "remaining": "x-rate-limit-remaining",
    "reset": "x-rate-limit-reset",
}


def _headers(remaining: int, reset: float, date: float | None) -> dict:
    headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": str(remaining)}
    headers["x-rate-limit-reset"] = str(int(reset))
    if date is not None:
        headers["date"] = email.utils.formatdate(date, usegmt=True)
    return headers


def test_the_reset_is_read_against_the_servers_date():
    server_now = 946_684_800  # the server thinks it is 2000-01-01

    window = window_from_headers(_headers(3, server_now + 30, server_now), **OKTA)

    assert window == Window(limit=100, remaining=3, reset_after=31.0)


def test_without_a_date_the_local_clock_stands_in():
    window = window_from_headers(_headers(3, 1_000_030, None), **OKTA, now=lambda: 1_000_000)

    assert window.reset_after == 31.0


def test_a_reset_far_away_is_capped_and_missing_headers_say_nothing():
    far = window_from_headers(_headers(0, 10**10, 0), **OKTA)

    assert far.reset_after == MAX_WAIT_SECONDS
    assert window_from_headers({"x-rate-limit-limit": "5"}, **OKTA) is None


class _Clock:
    def __init__(self):
        self.now, self.slept = 100.0, []

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_the_pacer_sleeps_before_the_request_that_would_exceed_the_window():
    clock = _Clock()
    pacer = Pacer(sleep=clock.sleep, clock=lambda: clock.now)

    pacer.before("users")
    pacer.observe("users", Window(limit=2, remaining=1, reset_after=10))
    pacer.before("users")  # one left: go
    pacer.observe("users", Window(limit=2, remaining=0, reset_after=8))
    pacer.before("apps")  # another bucket is not held up
    pacer.before("users")  # none left: wait for the reset first

    assert clock.slept == [8]
    assert pacer.waited == 8
    assert pacer.reset_in("users") is None  # that window is over


def test_reset_in_is_the_wait_a_429_in_this_window_asks_for():
    clock = _Clock()
    pacer = Pacer(sleep=clock.sleep, clock=lambda: clock.now)

    pacer.observe("users", Window(limit=600, remaining=450, reset_after=42))

    assert pacer.reset_in("users") == 42 and pacer.reset_in("apps") is None
