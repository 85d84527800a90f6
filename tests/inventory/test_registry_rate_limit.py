"""The registry crawler paces itself under a rate limit: a real registry on 127.0.0.1 behind a
token bucket (10 requests per 2 s, refilled continuously) that counts its own 429s per window.

Honouring Retry-After alone, the crawler burst again after each wait and was refused every few
requests (9 of 45 at 120 requests/minute); paced, it draws at most one 429 per window, and none
when the registry announces its quota in RateLimit headers.
"""

import pytest

from inventory.models import Registry
from inventory.rate_limit import Pacer, quota_from_headers
from inventory.services.crawls import execute_crawl, open_crawl
from tests.fixtures.registry_server import entry, generated_server, running_registry

PAGES = 16  # one server per page: 16 requests against 10 per 2 s


def crawl_limited(settings, **limiter) -> tuple:
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
    servers = [entry(generated_server(i)) for i in range(PAGES)]
    with running_registry(servers, max_limit=1, rate_limit=(10, 2.0), **limiter) as fake:
        reg = Registry.objects.create(name="limited", base_url=fake.url)
        job, _ = open_crawl(kind="registry", target=reg.base_url, registry=reg)
        execute_crawl(job.pk)
    job.refresh_from_db()
    return job, fake.limiter.refused


@pytest.mark.slow
@pytest.mark.django_db
def test_after_a_429_the_crawl_slows_to_the_implied_rate_and_draws_at_most_one_per_window(settings):
    job, refused = crawl_limited(settings)
    assert job.status == "done", job.error_log
    assert job.pages == PAGES and job.records == PAGES
    assert sum(refused.values()) >= 1  # the limiter did bite: the burst found the limit
    assert max(refused.values()) == 1, dict(refused)
    assert job.summary["rate_limited_responses"] == sum(refused.values())


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize("form", ["ietf", "ietf-07", "x"])
def test_a_registry_announcing_its_quota_in_ratelimit_headers_is_never_exceeded(settings, form):
    job, refused = crawl_limited(settings, rate_limit_headers=form)
    assert job.status == "done", job.error_log
    assert job.records == PAGES
    assert sum(refused.values()) == 0, dict(refused)


# --- the header forms and the pacing rule, without a server ---------------------------------


@pytest.mark.parametrize(
    "headers, remaining, reset",
    [
        ({"ratelimit": '"default";r=0;t=7', "ratelimit-policy": '"default";q=10;w=60'}, 0, 7),
        ({"ratelimit": '"burst";r=5;t=1, "daily";r=0;t=3600'}, 0, 3600),  # the tightest quota
        ({"ratelimit": "limit=10, remaining=3, reset=4", "ratelimit-policy": "10;w=60"}, 3, 4),
        ({"ratelimit-limit": "10", "ratelimit-remaining": "2", "ratelimit-reset": "9"}, 2, 9),
        (
            {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "30"},
            0,
            30,
        ),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000030"}, 0, 30),  # Unix time
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000030000"}, 0, 30),  # in ms
    ],
)
def test_the_ratelimit_header_forms_are_read_alike(headers, remaining, reset):
    quota = quota_from_headers(headers, now_epoch=1_700_000_000)
    assert (quota.remaining, quota.reset) == (remaining, reset)


def test_a_policy_alone_spreads_the_requests_and_garbage_is_ignored():
    pacer = Pacer(max_wait=60, clock=lambda: 0.0)
    pacer.answered({"ratelimit-policy": '"default";q=120;w=60'})
    assert pacer.interval == 0.5
    assert quota_from_headers({"x-ratelimit-remaining": "lots", "ratelimit": ";;,"}) is None
    assert quota_from_headers({"content-type": "application/json"}) is None


def test_a_429_slows_the_pace_to_what_was_granted_over_the_time_until_the_retry():
    now = [0.0]
    pacer = Pacer(max_wait=60, clock=lambda: now[0])
    for _ in range(10):  # ten answers in the first second
        pacer.started()
        pacer.answered({})
        now[0] += 0.1
    pacer.refused(3.0)  # then a 429: retry in 3 s
    assert pacer.interval == pytest.approx(4.0 / 10 * 1.1)
    now[0] += 3.0
    assert pacer.delay() == 0  # the retry itself waited already
    pacer.started()
    assert pacer.delay() == pytest.approx(0.44)
    pacer.refused(1.0)  # refused again at once: nothing granted, no new estimate, no speed-up
    assert pacer.interval == pytest.approx(0.44)


def test_an_exhausted_quota_waits_for_its_reset_capped():
    pacer = Pacer(max_wait=20, clock=lambda: 100.0)
    pacer.answered({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "5"})
    assert pacer.delay() == 5
    pacer.answered({"ratelimit": '"default";r=0;t=86400'})
    assert pacer.delay() == 20
