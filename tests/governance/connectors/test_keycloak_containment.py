"""The keycloak kind's containment calls (issue 13): their URLs against python-keycloak's
urls_patterns, and their semantics against the scripted Keycloak peer: a second consent
delete's 404, logout, offline sessions, the full-representation PUT, Retry-After from a proxy,
the missing role named on 403."""

import httpx
import pytest
from keycloak import urls_patterns

from governance.connectors import ConnectorError, NotSupported, RevokeResult
from governance.connectors.keycloak import KeycloakConnector
from tests.governance.connectors.test_keycloak import _pattern, _templates
from tests.peers.keycloak import REALM, KeycloakPeer


@pytest.fixture
def realm():
    server = KeycloakPeer().start()
    yield server
    server.stop()


def _connector(realm) -> KeycloakConnector:
    return KeycloakConnector(realm.config(), realm.secret)


def test_the_containment_urls_are_python_keycloaks(realm):
    connector = KeycloakConnector({**realm.config(), "base_url": "https://sso.test"}, "s")
    names = {"realm-name": REALM, "id": "u-1"}

    assert connector.user_url("u-1", "/logout") == "https://sso.test/" + (
        urls_patterns.URL_ADMIN_USER_LOGOUT.format(**names)
    )
    assert connector.user_url("u-1") == "https://sso.test/" + (
        urls_patterns.URL_ADMIN_USER.format(**names)
    )


def test_every_containment_request_matches_a_known_keycloak_path(realm):
    connector = _connector(realm)
    connector.verify()
    connector.grants_for("user-01", "billing-agent")
    connector.revoke_user_client("user-01", "billing-agent")
    connector.cut_off_identity("user-02")
    connector.revoke_client_grants("billing-agent")
    connector.deactivate("billing-agent")
    connector.reactivate("billing-agent")
    connector.client_active("billing-agent")

    patterns = [_pattern(t) for t in _templates()]
    for request in realm.requests:
        assert any(p.fullmatch(request.path) for p in patterns), request.target


def test_revoking_a_users_consent_takes_its_offline_tokens_and_a_second_time_is_absent(realm):
    connector = _connector(realm)
    (consent,) = connector.grants_for("user-01", "billing-agent")
    assert consent.scopes == ("profile", "billing:read")

    (first,) = connector.revoke_user_client("user-01", "billing-agent")
    (second,) = connector.revoke_user_client("user-01", "billing-agent")

    assert (first.outcome, first.status) == (RevokeResult.REVOKED, 204)
    # Keycloak's 404 "Consent nor offline token not found", confirmed by the consent list.
    assert (second.outcome, second.status) == (RevokeResult.ALREADY_ABSENT, 404)
    assert connector.grants_for("user-01", "billing-agent") == []
    assert realm.offline["c-agent"] == []


def test_cutting_off_a_user_logs_it_out_and_deletes_each_consent(realm):
    connector = _connector(realm)

    results = connector.cut_off_identity("user-01")
    (again,) = connector.cut_off_identity("user-01")
    (unknown,) = connector.cut_off_identity("user-nobody")

    assert [r.endpoint.rsplit("/", 2)[-2:] for r in results] == [
        ["user-01", "logout"],
        ["consents", "billing-agent"],
    ]
    assert {r.outcome for r in results} == {RevokeResult.REVOKED}
    assert realm.logouts == ["user-01", "user-01"] and realm.consents["user-01"] == {}
    assert again.outcome == RevokeResult.REVOKED  # logging out twice is fine
    assert (unknown.outcome, unknown.status) == (RevokeResult.ALREADY_ABSENT, 404)


def test_a_clients_offline_sessions_are_deleted(realm):
    connector = _connector(realm)

    first = connector.revoke_client_grants("billing-agent")
    (second,) = connector.revoke_client_grants("billing-agent")

    assert [(r.target, r.outcome) for r in first] == [
        (f"off-{n}", RevokeResult.REVOKED) for n in range(3)
    ]
    assert second.outcome == RevokeResult.ALREADY_ABSENT and realm.offline["c-agent"] == []
    with pytest.raises(NotSupported):
        connector.reactivate_client_grants("billing-agent")


def test_disabling_a_client_puts_back_its_full_representation(realm):
    connector = _connector(realm)
    before = dict(realm.clients["c-agent"])

    connector.deactivate("billing-agent")
    inactive = connector.client_active("billing-agent")
    connector.reactivate("billing-agent")

    assert (inactive, connector.client_active("billing-agent")) == (False, True)
    assert realm.clients["c-agent"] == {**before, "enabled": True}  # nothing else reset
    put = next(r for r in realm.requests if r.method == "PUT")
    assert set(put.json()) == set(before)


def test_the_peer_refuses_a_partial_client_representation(realm):
    token = httpx.post(
        f"{realm.url}{realm.token_path}",
        data={"grant_type": "client_credentials", **_credentials(realm)},
    ).json()["access_token"]

    answer = httpx.put(
        f"{realm.url}/admin/realms/{REALM}/clients/c-agent",
        json={"id": "c-agent", "clientId": "billing-agent", "enabled": False},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert answer.status_code == 400 and "full ClientRepresentation" in answer.text
    assert realm.clients["c-agent"]["enabled"] is True


def _credentials(realm):
    config = realm.config()
    return {"client_id": config["client_id"], "client_secret": realm.secret}


def test_a_proxy_in_front_of_keycloak_says_when_to_come_back(realm):
    connector = _connector(realm)
    connector.client_active("billing-agent")  # the token first: faults script the API only
    realm.fail_next(1, 503, headers={"Retry-After": "2"})

    with pytest.raises(ConnectorError) as caught:
        connector.revoke_user_client("user-01", "billing-agent")

    assert caught.value.retryable and caught.value.retry_after == 2.0


def test_a_missing_role_is_named(realm):
    realm.roles = ["view-users", "view-clients", "manage-clients"]

    with pytest.raises(ConnectorError) as caught:
        _connector(realm).cut_off_identity("user-01")

    assert caught.value.status == 403 and "manage-users" in str(caught.value)
    checks = {c.capability: c for c in _connector(realm).verify()}
    assert not checks["cut_off_identity"].ok and not checks["revoke_user_client"].ok
