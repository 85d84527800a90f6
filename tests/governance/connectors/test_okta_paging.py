"""The okta kind's pages and pacing against tests/peers/okta_local.py (a real server on 127.0.0.1
with Okta's `Link` and `X-Rate-Limit-*` headers, which Prism does not send), and the answers
no server here gives, through httpx.MockTransport."""

import email.utils
import time

import httpx
import pytest

from governance.connectors import ConnectorError
from governance.connectors.okta import OktaConnector
from governance.connectors.pacing import Pacer
from tests.governance.connectors.peers import okta_key, okta_token_server
from tests.peers.okta_local import TOKEN_PATH


@pytest.fixture
def okta_local():
    with okta_token_server() as (server, pem):
        server.users = [
            {"id": f"00u{n}", "status": "ACTIVE", "profile": {"email": f"u{n}@example.com"}}
            for n in range(5)
        ]
        yield server, pem


def _connector(server, pem) -> OktaConnector:
    config = {
        "domain": "example.okta.com",
        "client_id": server.client_id,
        "base_url": server.url,
        "token_url": f"{server.url}{TOKEN_PATH}",
    }
    return OktaConnector(config, pem)


def _user_pages(server) -> list[str]:
    return [path for method, path in server.requests if path.startswith("/api/v1/users")]


def test_pages_follow_link_next_until_it_is_absent(okta_local):
    server, pem = okta_local

    identities = list(_connector(server, pem).list_identities())

    assert [i.subject for i in identities] == [f"00u{n}" for n in range(5)]
    assert len(_user_pages(server)) == 3  # 2 + 2 + 1, then no next link
    assert "after=2" in _user_pages(server)[1] and "after=4" in _user_pages(server)[2]


def test_a_page_that_repeats_its_cursor_stops_with_an_error_not_a_loop(okta_local):
    server, pem = okta_local
    server.repeat_cursor = True

    with pytest.raises(ConnectorError) as caught:
        list(_connector(server, pem).list_identities())

    assert caught.value.error_code == "repeated_cursor" and not caught.value.retryable
    assert len(_user_pages(server)) == 2


def test_the_connector_waits_for_the_window_instead_of_collecting_429s(okta_local):
    server, pem = okta_local
    server.rate_limit, server.window_seconds = 2, 1  # three pages need two windows
    connector = _connector(server, pem)

    assert len(list(connector.list_identities())) == 5

    assert server.served_429 == 0
    assert connector.pacer.waited > 0


def test_without_pacing_the_same_sync_collects_a_429_that_says_when_to_return(okta_local):
    # The control for the test above: the server really limits, and the 429 is retryable
    # with the wait the last answer's X-Rate-Limit-Reset and Date gave.
    server, pem = okta_local
    server.rate_limit, server.window_seconds = 2, 1
    connector = _connector(server, pem)
    connector.pacer = Pacer(reserve=-1)  # never waits: spends past Remaining 0

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_identities())

    assert server.served_429 == 1
    assert caught.value.status == 429 and caught.value.retryable
    # The window ends on a whole second and Date has whole seconds: up to two more.
    assert 0 < caught.value.retry_after <= server.window_seconds + 2


def test_a_429s_own_x_rate_limit_reset_is_its_retry_after(okta_local):
    # The first call already finds the window spent: no earlier answer told the pacer when it
    # resets, so only the 429's own headers can (before, the fetcher dropped them: 60 s).
    server, pem = okta_local
    server.rate_limit, server.window_seconds = 0, 30

    with pytest.raises(ConnectorError) as caught:
        list(_connector(server, pem).list_identities())

    assert server.served_429 == 1 and caught.value.retryable
    # reset = the next whole second + 30, against the server's Date, +1 for the reset second
    assert 30 <= caught.value.retry_after <= 33


def test_a_client_assertion_signed_with_another_key_gets_no_token(okta_local):
    server, _ = okta_local

    with pytest.raises(ConnectorError) as caught:
        list(_connector(server, okta_key()[0]).list_identities())

    assert caught.value.status == 401 and caught.value.endpoint.endswith(TOKEN_PATH)
    assert "client assertion" in str(caught.value)
    assert not _user_pages(server)


def test_a_secret_that_is_not_a_private_key_is_refused_without_being_repeated():
    connector = OktaConnector({"domain": "example.okta.com", "client_id": "0oa1"}, "hunter2-pem")

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_identities())

    assert caught.value.error_code == "invalid_key" and "hunter2" not in str(caught.value)


# --- answers no server here gives --------------------------------------------------------------


def _mocked(handler) -> OktaConnector:
    config = {"domain": "example.okta.com", "client_id": "0oa1"}
    return OktaConnector(config, okta_key()[0], mock=httpx.MockTransport(handler))


def _token_then(api):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH:
            return httpx.Response(200, json={"access_token": "at", "expires_in": 3600})
        return api(request)

    return handler


def test_the_next_link_is_found_among_okta_s_other_links():
    pages = {
        "": '<https://example.okta.com/api/v1/users?limit=200>; rel="self", '
        '<https://example.okta.com/api/v1/users?after=00u1&limit=200>; rel="next"',
        "00u1": '<https://example.okta.com/api/v1/users?after=00u1&limit=200>; rel="self"',
    }

    def api(request):
        after = request.url.params.get("after", "")
        return httpx.Response(200, json=[{"id": after or "00u1"}], headers={"Link": pages[after]})

    assert [i.subject for i in _mocked(_token_then(api)).list_identities()] == ["00u1", "00u1"]


def test_a_token_endpoint_that_rate_limits_is_retryable():
    def handler(request):
        return httpx.Response(429, json={"errorCode": "E0000047"})

    with pytest.raises(ConnectorError) as caught:
        list(_mocked(handler).list_identities())

    assert caught.value.status == 429 and caught.value.retryable and caught.value.retry_after


def test_a_next_link_to_another_host_is_not_followed_with_the_token():
    def api(request):
        link = '<https://elsewhere.example/api/v1/users?after=2>; rel="next"'
        return httpx.Response(200, json=[{"id": "00u1"}], headers={"Link": link})

    with pytest.raises(ConnectorError) as caught:
        list(_mocked(_token_then(api)).list_identities())

    assert caught.value.error_code == "foreign_link"


def test_a_429_waits_until_its_reset_by_the_servers_clock_not_ours():
    server_now = time.time() - 3600  # the server's clock is an hour behind ours
    headers = {
        "Date": email.utils.formatdate(server_now, usegmt=True),
        "X-Rate-Limit-Limit": "600",
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": str(int(server_now) + 30),
    }
    body = {"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit"}

    with pytest.raises(ConnectorError) as caught:
        list(
            _mocked(
                _token_then(lambda r: httpx.Response(429, json=body, headers=headers))
            ).list_clients()
        )

    assert caught.value.error_code == "E0000047" and caught.value.retryable
    assert 29 <= caught.value.retry_after <= 31  # reset - Date + 1, not reset - our clock


def test_an_expired_access_token_is_renewed_once():
    answers = iter(
        [httpx.Response(401, json={"errorCode": "E0000011"}), httpx.Response(200, json=[])]
    )
    tokens = []

    def handler(request):
        if request.url.path == TOKEN_PATH:
            tokens.append(request)
            return httpx.Response(
                200, json={"access_token": f"at{len(tokens)}", "expires_in": 3600}
            )
        return next(answers)

    assert list(_mocked(handler).list_identities()) == []
    assert len(tokens) == 2
