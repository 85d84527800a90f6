"""The auth0 kind's containment calls (issue 13): their URLs against auth0-python's Management
API client, and their semantics against the scripted Auth0 peer: a second delete's 404, user
refresh tokens and sessions, client grants, Retry-After on 429, the missing scope on 403."""

import pytest

from governance.connectors import ConnectorError, NotSupported, RevokeResult
from tests.governance.connectors.test_auth0 import (
    DOMAIN,
    _api_requests,
    _connector,
    _same_url,
    _sdk_request,
)
from tests.peers.auth0 import Auth0Peer


@pytest.fixture
def server():
    peer = Auth0Peer(domain=DOMAIN).start()
    peer.seed()
    yield peer
    peer.stop()


def _sent(server, method: str, path: str):
    return [r for r in _api_requests(server) if (r.method, r.raw_path) == (method, path)]


def test_the_containment_calls_are_the_urls_auth0_python_builds(server):
    connector = _connector(server)
    connector.revoke_user_client("auth0|user0", "agent-app")
    connector.cut_off_identity("auth0|user1")
    connector.revoke_client_grants("agent-app")

    user0, user1 = "auth0%7Cuser0", "auth0%7Cuser1"
    expectations = [
        (
            _sent(server, "GET", "/api/v2/grants")[0],
            lambda c: c.user_grants.list(
                page=0,
                per_page=100,
                include_totals=True,
                user_id="auth0|user0",
                client_id="agent-app",
            ),
        ),
        (
            _sent(server, "GET", f"/api/v2/users/{user0}/refresh-tokens")[0],
            lambda c: c.users.refresh_token.list("auth0|user0", take=100, include_totals=None),
        ),
        (
            _sent(server, "DELETE", "/api/v2/grants/cgr_0")[0],
            lambda c: c.user_grants.delete("cgr_0"),
        ),
        (
            _sent(server, "DELETE", "/api/v2/refresh-tokens/rt_0_0")[0],
            lambda c: c.refresh_tokens.delete("rt_0_0"),
        ),
        (
            _sent(server, "DELETE", f"/api/v2/users/{user1}/refresh-tokens")[0],
            lambda c: c.users.refresh_token.delete("auth0|user1"),
        ),
        (
            _sent(server, "DELETE", f"/api/v2/users/{user1}/sessions")[0],
            lambda c: c.users.sessions.delete("auth0|user1"),
        ),
        (
            _sent(server, "GET", "/api/v2/client-grants")[0],
            lambda c: c.client_grants.list(take=100, client_id="agent-app", include_totals=None),
        ),
        (
            _sent(server, "DELETE", "/api/v2/client-grants/cg_1")[0],
            lambda c: c.client_grants.delete("cg_1"),
        ),
    ]
    for sent, call in expectations:
        _same_url(sent, _sdk_request(call))


def test_what_a_user_granted_a_client_is_its_consent_and_refresh_tokens(server):
    connector = _connector(server)
    listed = connector.grants_for("auth0|user0", "agent-app")
    assert {(g.grant_type, g.idp_id) for g in listed} == {
        ("consent", "cgr_0"),
        ("refresh_token", "rt_0_0"),
        ("refresh_token", "rt_0_1"),
    }

    first = connector.revoke_user_client("auth0|user0", "agent-app")
    (second,) = connector.revoke_user_client("auth0|user0", "agent-app")

    assert {r.outcome for r in first} == {RevokeResult.REVOKED} and len(first) == 3
    assert second.outcome == RevokeResult.ALREADY_ABSENT
    assert connector.grants_for("auth0|user0", "agent-app") == []
    assert "cgr_1" in server.grants and "rt_1_0" in server.refresh_tokens  # others untouched


def test_cutting_off_a_user_ends_its_refresh_tokens_and_sessions(server):
    connector = _connector(server)

    first = connector.cut_off_identity("auth0|user1")
    again = connector.cut_off_identity("auth0|user1")
    unknown = connector.cut_off_identity("auth0|nobody")

    assert [(r.target, r.status) for r in first] == [
        ("auth0|user1/refresh-tokens", 204),
        ("auth0|user1/sessions", 204),
    ]
    assert {r.outcome for r in again} == {RevokeResult.REVOKED}  # Auth0's bulk deletes: 204
    assert not [t for t in server.refresh_tokens.values() if t["user_id"] == "auth0|user1"]
    assert "auth0|user1" not in server.sessions and "cgr_1" in server.grants
    # An unknown user: 404, confirmed by reading the user (404 too).
    assert {(r.outcome, r.status) for r in unknown} == {(RevokeResult.ALREADY_ABSENT, 404)}


def test_a_clients_grants_and_consents_go_and_a_second_time_finds_none(server):
    connector = _connector(server)

    first = connector.revoke_client_grants("agent-app")
    (second,) = connector.revoke_client_grants("agent-app")

    assert {r.target for r in first} == {"cg_1", "cgr_0", "cgr_1", "cgr_2"}
    assert second.outcome == RevokeResult.ALREADY_ABSENT
    assert not server.client_grants and not server.grants
    with pytest.raises(NotSupported):
        connector.reactivate_client_grants("agent-app")


def test_deactivating_says_auth0_clients_have_no_enabled_flag(server):
    connector = _connector(server)

    for call in (connector.deactivate, connector.reactivate, connector.client_active):
        with pytest.raises(NotSupported) as caught:
            call("agent-app")
        assert "no enabled flag" in str(caught.value)


def test_a_rate_limited_call_says_when_to_come_back(server):
    connector = _connector(server)
    connector.grants_for("auth0|user0", "agent-app")  # the token first
    server.throttle(1, 2, body={"statusCode": 429, "errorCode": "too_many_requests"})

    with pytest.raises(ConnectorError) as caught:
        connector.cut_off_identity("auth0|user0")

    assert caught.value.status == 429 and caught.value.retry_after == 2.0


def test_a_missing_scope_is_named(server):
    server.scopes.discard("delete:sessions")

    with pytest.raises(ConnectorError) as caught:
        _connector(server).cut_off_identity("auth0|user0")

    assert caught.value.status == 403 and "delete:sessions" in str(caught.value)
    checks = {c.capability: c for c in _connector(server).verify()}
    assert not checks["cut_off_identity"].ok and checks["revoke_user_client"].ok
