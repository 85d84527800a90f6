"""An IdP that misbehaves mid-sync (a scripted grants server on 127.0.0.1): outages, rate
limits and a looping cursor. Each sync either finishes with every grant or fails saying why,
keeping what it read and vanishing nothing on a partial listing."""

from __future__ import annotations

import pytest

from governance.idp.models import IdpSync
from inventory.models import Grant
from tests.governance.idp.conftest import oauth_connection
from tests.governance.idp.test_sync import sync_now

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_sync_rides_out_503s_mid_sync_and_finishes(grants_server):
    grants_server.outage(after_pages=1, seconds=1.0)  # retries wait 0.1, 0.2, 0.4, 0.8 s
    connection = oauth_connection(grants_server.url)

    sync = sync_now(connection, full=True)

    assert sync.status == "done", sync.error_log
    assert 503 in grants_server.statuses()
    assert sync.seen == 25 and Grant.objects.count() == 25
    assert sync.summary["waits"]["server_error"] >= 1


@pytest.mark.slow
def test_a_30_second_outage_mid_sync_is_ridden_out_with_the_default_backoff(
    grants_server, settings
):
    # The case at full length, with the shipped retry settings (1 s doubled, 7 tries:
    # a minute of waiting at most).
    settings.IDP_SYNC_BACKOFF_SECONDS = 1.0
    settings.IDP_SYNC_ATTEMPTS = 7
    grants_server.outage(after_pages=1, seconds=30)
    connection = oauth_connection(grants_server.url)

    sync = sync_now(connection, full=True)

    assert sync.status == "done", sync.error_log
    assert sync.seen == 25 and Grant.objects.count() == 25
    assert 2 <= grants_server.statuses().count(503) <= 6  # backed off, not hammered


def test_an_outage_longer_than_the_retries_fails_the_sync_keeping_what_it_read(
    grants_server, settings
):
    settings.IDP_SYNC_ATTEMPTS = 3
    connection = oauth_connection(grants_server.url)
    settings.IDP_SYNC_PAGE_SIZE = 10
    assert sync_now(connection).created == 25
    grants_server.grants.append({**grants_server.grants[0], "id": "grant-new"})
    grants_server.outage(after_pages=1, seconds=60)

    sync = sync_now(connection, full=True)

    assert sync.status == "failed"
    assert "HTTP 503" in " ".join(entry["message"] for entry in sync.error_log)
    assert grants_server.statuses().count(503) == 3  # bounded: the attempts, no more
    # a partial listing is not the IdP's whole truth: nothing was marked vanished
    assert not Grant.objects.filter(vanished_at__isnull=False).exists()
    assert sync.vanished == 0


def test_a_429_is_waited_out_for_its_retry_after_not_hammered(grants_server):
    grants_server.rate_limit_once(at_request=2, retry_after=1)
    connection = oauth_connection(grants_server.url)

    sync = sync_now(connection)

    assert sync.status == "done", sync.error_log
    statuses = grants_server.statuses()
    assert statuses.count(429) == 1
    assert len(statuses) == 3 + 1  # three pages, one of them asked twice
    (limited_at, cursor, _), (retried_at, retried_cursor, status) = grants_server.log[1:3]
    assert (retried_cursor, status) == (cursor, 200)
    assert retried_at - limited_at >= 0.9  # the server said 1 s; the sync slept it
    assert sync.summary["waits"]["rate_limited"] == 1


def test_a_sync_paces_itself_under_an_okta_style_rate_limit(grants_server):
    grants_server.page_size = 2  # 13 pages
    grants_server.limit_per_second = 4
    connection = oauth_connection(grants_server.url)

    sync = sync_now(connection)

    assert sync.status == "done", sync.error_log
    assert sync.seen == 25
    # it waited for the window's reset when the headers said it was spent
    assert sync.summary["waits"]["pacing"] >= 2
    assert grants_server.statuses().count(429) <= 1


def test_a_page_that_repeats_a_cursor_stops_the_sync_with_an_error_not_a_loop(grants_server):
    grants_server.repeat_cursor_at = 10
    connection = oauth_connection(grants_server.url)

    sync = sync_now(connection, full=True)

    assert sync.status == "failed"
    assert "repeats a cursor" in " ".join(entry["message"] for entry in sync.error_log)
    assert len(grants_server.log) == 2  # pages 0 and 10, then it stopped
    assert Grant.objects.count() == 20  # what it read before is kept
    assert IdpSync.objects.get(pk=sync.pk).summary["failed"]["grants"]
