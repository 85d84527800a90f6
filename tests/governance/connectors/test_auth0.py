"""The auth0 kind beyond the shared contract: its URLs against auth0-python's, and pagination,
rate limits, scopes and refusals against the scripted Management API peer."""

import contextlib
import email.utils
import time
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from auth0.management import ManagementClient

from governance.connectors import ConnectorError, IdpGrant, NotSupported, RevokeResult, transport
from governance.connectors.auth0 import Auth0Connector
from tests.governance.connectors.peers import _auth0_config
from tests.peers.auth0 import Auth0Peer

DOMAIN = "tenant.example.test"


@pytest.fixture
def server():
    peer = Auth0Peer(domain=DOMAIN).start()
    peer.seed()
    yield peer
    peer.stop()


def _connector(server, **config) -> Auth0Connector:
    return Auth0Connector({**_auth0_config(server, server.url), **config}, server.secret)


def _sdk_request(call) -> httpx.Request:
    """The request auth0-python's Management API client sends for `call(client)`."""
    seen = []

    def record(request):
        seen.append(request)
        return httpx.Response(200, json={})

    client = ManagementClient(
        domain=DOMAIN, token="t", httpx_client=httpx.Client(transport=httpx.MockTransport(record))
    )
    with contextlib.suppress(Exception):  # the empty answer may not parse: only the URL matters
        call(client)
    return seen[0]


def _api_requests(server):
    return [r for r in server.requests if r.raw_path.startswith("/api/v2/")]


def _same_url(sent, expected: httpx.Request):
    """Method, percent-encoded path and query parameters as the SDK builds them."""
    path = urlsplit(str(expected.url)).path
    assert (sent.method, sent.raw_path) == (expected.method, path)
    assert sent.query == dict(parse_qsl(expected.url.query.decode()))


def test_listing_calls_are_the_urls_auth0_python_builds(server):
    connector = _connector(server, page_size=2)

    list(connector.list_identities())
    list(connector.list_clients())
    list(connector.list_grants())

    sent = _api_requests(server)
    first = {}
    for request in sent:  # the first page, and the second where there is one
        key = (request.raw_path, request.query.get("page") or request.query.get("from") or "0")
        first.setdefault(key, request)
    expectations = {
        ("/api/v2/users", "0"): lambda c: c.users.list(page=0, per_page=2, include_totals=True),
        ("/api/v2/users", "1"): lambda c: c.users.list(page=1, per_page=2, include_totals=True),
        ("/api/v2/clients", "0"): lambda c: c.clients.list(page=0, per_page=2, include_totals=True),
        ("/api/v2/grants", "1"): lambda c: c.user_grants.list(
            page=1, per_page=2, include_totals=True
        ),
        ("/api/v2/client-grants", "0"): lambda c: c.client_grants.list(take=2, include_totals=None),
        ("/api/v2/users/auth0%7Cuser0/refresh-tokens", "0"): lambda c: c.users.refresh_token.list(
            "auth0|user0", take=2, include_totals=None
        ),
    }
    for key, call in expectations.items():
        _same_url(first[key], _sdk_request(call))


def test_a_checkpoint_page_is_fetched_from_the_previous_next_as_auth0_python_does(server):
    server.refresh_tokens.update(
        {f"rt_0_{k}": {**server.refresh_tokens["rt_0_0"], "id": f"rt_0_{k}"} for k in range(2, 5)}
    )

    grants = [
        g for g in _connector(server, page_size=2).list_grants() if g.subject == "auth0|user0"
    ]

    later = [r for r in _api_requests(server) if r.query.get("from")]
    expected = _sdk_request(
        lambda c: c.users.refresh_token.list("auth0|user0", from_="2", take=2, include_totals=None)
    )
    _same_url(later[0], expected)
    assert sorted(g.idp_id for g in grants if g.grant_type == "refresh_token") == [
        f"rt_0_{k}" for k in range(5)
    ]


def test_each_revoke_deletes_where_auth0_python_does(server):
    connector = _connector(server)
    cases = {
        "consent": ("cgr_1", lambda c: c.user_grants.delete("cgr_1")),
        "refresh_token": ("rt_1_0", lambda c: c.refresh_tokens.delete("rt_1_0")),
        "application_permission": ("cg_1", lambda c: c.client_grants.delete("cg_1")),
    }
    for grant_type, (grant_id, call) in cases.items():
        grant = IdpGrant(idp_id=grant_id, subject="", client_id="", grant_type=grant_type)

        assert connector.revoke(grant).outcome == RevokeResult.REVOKED
        _same_url(_api_requests(server)[-1], _sdk_request(call))
        assert connector.revoke(grant).outcome == RevokeResult.ALREADY_ABSENT


def test_the_token_is_asked_for_the_management_api_audience_like_auth0_python(server):
    _connector(server).verify()

    token_calls = [r for r in server.requests if r.path == "/oauth/token"]
    assert len(token_calls) == 1  # fetched once, reused for every call
    assert token_calls[0].form == {
        "grant_type": "client_credentials",
        "client_id": "console",
        "client_secret": server.secret,
        "audience": f"https://{DOMAIN}/api/v2/",  # auth0-python's TokenProvider default
    }


def test_grants_are_normalised_per_kind_of_auth0_record(server):
    grants = list(_connector(server).list_grants())

    by_type = {}
    for grant in grants:
        by_type.setdefault(grant.grant_type, []).append(grant)
    assert {g.idp_id for g in by_type["consent"]} == {"cgr_0", "cgr_1", "cgr_2"}
    consent = next(g for g in by_type["consent"] if g.idp_id == "cgr_0")
    assert (consent.subject, consent.client_id) == ("auth0|user0", "agent-app")  # clientID
    assert consent.scopes == ("openid", "read:invoices")
    (m2m,) = by_type["application_permission"]
    assert (m2m.subject, m2m.client_id, m2m.scopes) == ("", "agent-app", ("billing:admin",))
    token = next(g for g in by_type["refresh_token"] if g.idp_id == "rt_0_0")
    assert token.scopes == ("read:invoices", "offline_access")
    assert token.created.isoformat() == "2026-11-01T10:00:00+00:00"
    assert token.expires.year == 2027 and token.raw["rotating"] is True
    assert len(by_type["refresh_token"]) == 6


def test_without_refresh_tokens_no_user_is_asked_for_them(server):
    grants = list(_connector(server, list_refresh_tokens=False).list_grants())

    assert {g.grant_type for g in grants} == {"consent", "application_permission"}
    assert not [r for r in server.requests if r.path.endswith("/refresh-tokens")]


def test_a_cursor_the_peer_repeats_stops_the_listing_instead_of_looping(server):
    server.repeat_cursor = True
    server.client_grants.update(
        {f"cg_{n}": {"id": f"cg_{n}", "client_id": "a"} for n in range(2, 9)}
    )

    with pytest.raises(ConnectorError) as caught:
        list(_connector(server, page_size=2, list_refresh_tokens=False).list_grants())

    assert caught.value.error_code == "repeated_cursor" and not caught.value.retryable
    # The second page repeats the first's cursor: two requests, then the error.
    assert len([r for r in server.requests if r.path.endswith("client-grants")]) == 2


def test_a_server_that_ignores_the_page_number_stops_the_listing(server):
    server.ignore_page = True

    with pytest.raises(ConnectorError) as caught:
        list(_connector(server, page_size=2).list_identities())

    assert caught.value.error_code == "repeated_cursor"


def test_a_tenant_with_more_users_than_auth0_pages_through_is_refused_not_listed_in_part(server):
    server.users += [{"user_id": f"auth0|bulk{n}"} for n in range(1000)]

    with pytest.raises(ConnectorError) as caught:
        list(_connector(server).list_identities())

    assert caught.value.error_code == "too_many_users" and "1003 users" in str(caught.value)


def test_a_429_is_retryable_with_the_wait_until_the_windows_rate_limit_reset(server):
    connector = _connector(server)
    connector.verify()  # answers announced the window's X-RateLimit-Reset (the next second)
    server.fail_next(1, 429, body={"statusCode": 429, "errorCode": "too_many_requests"})

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_clients())

    assert caught.value.status == 429 and caught.value.retryable
    assert 0 < caught.value.retry_after <= 2  # the reset against the server's Date


def test_retry_after_wins_over_the_reset_header(server):
    headers = {"Retry-After": "7", "X-RateLimit-Reset": str(int(time.time()) + 50)}
    connector = _connector(server)
    connector.verify()
    server.fail_next(1, 429, body={"statusCode": 429}, headers=headers)

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_clients())

    assert caught.value.retry_after == 7.0


def _reset_in(seconds: int) -> dict:
    return {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(time.time()) + seconds),
    }


def test_a_429s_own_reset_header_is_its_retry_after_through_the_safe_fetcher(server):
    # No earlier answer announced a window: the 429's own X-RateLimit-Reset is all there is
    # (before, the fetcher kept only Retry-After and the connector guessed one second).
    server.fail_next(1, 429, body={"statusCode": 429}, headers=_reset_in(30))

    with pytest.raises(ConnectorError) as caught:
        list(_connector(server).list_clients())

    assert caught.value.status == 429 and caught.value.retryable
    # Against the peer's Date, +1 for its second; the low end allows a slow token round trip.
    assert 25 <= caught.value.retry_after <= 32


def test_a_sync_waits_out_the_429s_own_reset_then_carries_on(server):
    server.fail_next(1, 429, body={"statusCode": 429}, headers=_reset_in(20))
    waits = []
    policy = transport.RetryPolicy(sleep=lambda s: None, on_wait=lambda *wait: waits.append(wait))

    with transport.retrying(policy):
        clients = list(_connector(server).list_clients())

    assert clients and [reason for reason, _ in waits] == ["rate_limited"]
    assert 15 <= waits[0][1] <= 22


def test_the_connector_waits_for_the_reset_when_nothing_remains_instead_of_collecting_429s(server):
    server.limit = 2  # requests per one-second window
    connector = _connector(server, page_size=1, list_refresh_tokens=False)
    waits = []
    connector.sleep = lambda seconds: (waits.append(seconds), time.sleep(seconds))

    grants = list(connector.list_grants())

    assert len(grants) == 4 and server.rate_limited == 0
    assert waits and all(0 < wait <= 2 for wait in waits)


def test_a_missing_scope_is_named_by_verify_and_by_the_failing_call(server):
    server.scopes -= {"read:client_grants", "delete:grants"}
    connector = _connector(server)

    checks = {check.capability: check for check in connector.verify()}

    assert checks["list_identities"].ok and checks["list_clients"].ok
    assert not checks["list_grants"].ok and "read:client_grants" in checks["list_grants"].detail
    assert not checks["revoke"].ok and "delete:grants" in checks["revoke"].detail
    assert "HTTP 403, insufficient_scope" in checks["revoke"].detail
    assert not checks["deactivate"].ok and "enabled flag" in checks["deactivate"].detail


def test_a_wrong_secret_fails_at_the_token_and_never_shows_it(server):
    connector = Auth0Connector(_auth0_config(server, server.url), "wrong-secret-value")

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_identities())

    assert caught.value.status == 401 and not caught.value.retryable
    assert caught.value.endpoint.endswith("/oauth/token")
    assert "Management API token" in str(caught.value) and "wrong-secret" not in str(caught.value)


def test_an_api_token_the_tenant_no_longer_accepts_is_fetched_again_once(server):
    connector = _connector(server)
    list(connector.list_clients())
    server._tokens.clear()  # the tenant forgot it (expired, rotated signing key)

    assert len(list(connector.list_clients())) == 2

    assert len([r for r in server.requests if r.path == "/oauth/token"]) == 2


def test_a_503_is_a_retryable_error_naming_the_call(server):
    connector = _connector(server)
    connector.verify()
    server.fail_next(1, 503, body={"statusCode": 503, "error": "Service Unavailable"})

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_grants())

    assert (caught.value.call, caught.value.status, caught.value.retryable) == (
        "list_grants",
        503,
        True,
    )


def test_a_token_value_and_deactivation_are_not_supported_with_the_reason(server):
    connector = _connector(server)

    with pytest.raises(NotSupported) as token:
        connector.revoke("some-refresh-token")
    with pytest.raises(NotSupported) as deactivate:
        connector.deactivate("agent-app")

    assert "/oauth/revoke" in str(token.value)
    assert "no enabled flag" in str(deactivate.value)
    assert _api_requests(server) == []


def test_a_429s_reset_is_measured_against_the_servers_date_not_the_local_clock():
    # A mock transport hands the connector the 429 itself (the safe fetcher raises instead, with
    # the headers on the error: see the peer tests above); the server's clock runs an hour
    # behind ours here.
    server_now = time.time() - 3600
    date = email.utils.formatdate(server_now, usegmt=True)
    reset = str(int(server_now) + 30)

    def answer(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 86400})
        headers = {"Date": date, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
        return httpx.Response(429, json={"statusCode": 429}, headers=headers)

    config = {"domain": DOMAIN, "client_id": "console"}
    connector = Auth0Connector(config, "s", mock=httpx.MockTransport(answer))

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_clients())

    assert caught.value.retryable and 29 <= caught.value.retry_after <= 31
