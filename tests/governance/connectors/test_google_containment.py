"""The google kind's containment calls (issue 13): their URLs and scopes against the admin
directory_v1 discovery document google-api-python-client ships, and their semantics against the
scripted Google peer: a second delete's 404, sign-out, rate errors, the missing delegation."""

import pytest
from googleapiclient.discovery import build
from googleapiclient.http import HttpMock

from governance.connectors import ConnectorError, NotSupported, RevokeResult
from tests.governance.connectors.test_google import _api_requests, _connector, _same_url
from tests.peers.google import SECURITY, GooglePeer

AGENT = "agent.apps.googleusercontent.com"


@pytest.fixture
def server():
    peer = GooglePeer().start()
    peer.seed()
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def directory():
    return build(
        "admin", "directory_v1", http=HttpMock(None, {"status": "200"}), static_discovery=True
    )


def test_the_containment_calls_are_the_discovery_documents(server, directory):
    connector = _connector(server)
    connector.grants_for("201", AGENT)
    connector.cut_off_identity("202")

    sent = _api_requests(server)
    _same_url(sent[0], directory.tokens().get(userKey="201", clientId=AGENT))
    _same_url(sent[1], directory.users().signOut(userKey="202"))
    methods = directory._resourceDesc["resources"]
    assert methods["tokens"]["methods"]["get"]["scopes"] == [SECURITY]
    assert SECURITY in methods["users"]["methods"]["signOut"]["scopes"]


def test_revoking_a_users_grant_to_an_app_twice_is_revoked_then_absent(server):
    connector = _connector(server)
    (grant,) = connector.grants_for("201", AGENT)
    assert grant.scopes and grant.raw["displayText"] == "Agent"

    (first,) = connector.revoke_user_client("201", AGENT)
    (second,) = connector.revoke_user_client("201", AGENT)

    assert (first.outcome, first.status) == (RevokeResult.REVOKED, 204)
    assert (second.outcome, second.status) == (RevokeResult.ALREADY_ABSENT, 404)
    assert connector.grants_for("201", AGENT) == []


def test_cutting_off_a_user_signs_it_out_and_deletes_every_app_token(server):
    server.tokens["202"]["other.apps"] = {"clientId": "other.apps", "userKey": "202"}
    connector = _connector(server)

    results = connector.cut_off_identity("202")
    again = connector.cut_off_identity("202")
    (unknown,) = connector.cut_off_identity("999")

    assert [r.target for r in results] == ["202/sessions", f"202/{AGENT}", "202/other.apps"]
    assert server.signed_out == ["202", "202"] and server.tokens["202"] == {}
    assert [r.target for r in again] == ["202/sessions"]  # signed out again, nothing else left
    assert (unknown.outcome, unknown.status) == (RevokeResult.ALREADY_ABSENT, 404)


def test_a_clients_own_grants_and_deactivation_say_why_not(server):
    connector = _connector(server)

    with pytest.raises(NotSupported) as caught:
        connector.revoke_client_grants(AGENT)
    assert "per user" in str(caught.value)
    with pytest.raises(NotSupported) as caught:
        connector.client_active(AGENT)
    assert "API controls" in str(caught.value)


def test_a_rate_error_is_retryable(server):
    server.limit = 0

    with pytest.raises(ConnectorError) as caught:
        _connector(server).revoke_user_client("201", AGENT)

    assert caught.value.retryable and caught.value.retry_after == 1.0


def test_a_scope_the_domain_did_not_delegate_is_named(server):
    server.delegated = {s for s in server.delegated if s != SECURITY}

    with pytest.raises(ConnectorError) as caught:
        _connector(server).cut_off_identity("202")

    assert SECURITY in str(caught.value)
    checks = {c.capability: c for c in _connector(server).verify()}
    assert not checks["cut_off_identity"].ok and not checks["revoke_user_client"].ok
