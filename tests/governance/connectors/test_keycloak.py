"""The keycloak kind: its URLs against python-keycloak's urls_patterns, and its behaviour
against the scripted Keycloak peer (tests/peers/keycloak.py): first/max pages, consents and
offline sessions, revocation, client deactivation and verify's missing-role reports."""

import re
from urllib.parse import urlsplit

import pytest
from keycloak import urls_patterns

from governance.connectors import ConnectorError, NotSupported, RevokeResult
from governance.connectors.keycloak import KeycloakConnector
from tests.peers.keycloak import REALM, KeycloakPeer

# Admin paths Keycloak has that python-keycloak 7.1.1 does not wrap, from the server source
# (ClientResource.getOfflineUserSessions, RealmAdminResource.deleteSession).
NOT_IN_PYTHON_KEYCLOAK = (
    "admin/realms/{realm-name}/clients/{id}/offline-sessions",
    "admin/realms/{realm-name}/sessions/{id}",
)


@pytest.fixture
def realm():
    server = KeycloakPeer().start()
    yield server
    server.stop()


def _connector(realm, **config) -> KeycloakConnector:
    return KeycloakConnector({**realm.config(), **config}, realm.secret)


def _pattern(template: str) -> re.Pattern:
    """python-keycloak's `{placeholder}` template as a regex over a request path."""
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("/" + "[^/]+".join(re.escape(p) for p in parts))


def _templates() -> list[str]:
    names = [n for n in dir(urls_patterns) if n.startswith("URL_")]
    return [getattr(urls_patterns, n) for n in names] + list(NOT_IN_PYTHON_KEYCLOAK)


# --- URLs: python-keycloak is the oracle --------------------------------------------------------


def test_the_urls_the_connector_builds_are_python_keycloaks(realm):
    connector = KeycloakConnector({**realm.config(), "base_url": "https://sso.test"}, "s")
    names = {"realm-name": REALM, "id": "u-1", "client-id": "billing-agent"}

    assert connector.session.token_url == "https://sso.test/" + urls_patterns.URL_TOKEN.format(
        **names
    )
    assert connector.url("/users") == "https://sso.test/" + urls_patterns.URL_ADMIN_USERS.format(
        **names
    )
    assert connector.consent_url("u-1") == "https://sso.test/" + (
        urls_patterns.URL_ADMIN_USER_CONSENTS.format(**names)
    )
    assert connector.consent_url("u-1", "billing-agent") == "https://sso.test/" + (
        urls_patterns.URL_ADMIN_USER_CONSENT.format(**names)
    )
    assert connector.url("/clients/u-1") == "https://sso.test/" + (
        urls_patterns.URL_ADMIN_CLIENT.format(**names)
    )


def test_every_request_of_a_full_round_matches_a_known_keycloak_path(realm):
    connector = _connector(realm, page_size=2)
    connector.verify()
    list(connector.list_identities())
    list(connector.list_clients())
    grants = list(connector.list_grants())
    for grant in grants[:2]:
        connector.revoke(grant)
    connector.deactivate("billing-agent")

    patterns = [_pattern(t) for t in _templates()]
    for request in realm.requests:
        assert any(p.fullmatch(request.path) for p in patterns), request.target
    assert {r.method for r in realm.requests} == {"GET", "POST", "DELETE", "PUT"}


# --- listing --------------------------------------------------------------------------------


def test_users_and_clients_are_read_page_by_page_with_first_and_max(realm):
    identities = list(_connector(realm, page_size=2).list_identities())

    assert len(identities) == 6
    pages = [r.query for r in realm.requests if urlsplit(r.path).path.endswith("/users")]
    assert [(q["first"], q["max"]) for q in pages] == [
        ("0", "2"),
        ("2", "2"),
        ("4", "2"),
        ("6", "2"),
    ]
    service = next(i for i in identities if i.subject == "sa-console")
    assert service.kind == "service" and identities[0].kind == "human"


def test_a_server_that_ignores_first_ends_the_listing_with_an_error(realm):
    realm.ignore_first = True

    with pytest.raises(ConnectorError) as caught:
        list(_connector(realm, page_size=2).list_identities())

    assert caught.value.error_code == "repeated_cursor"


def test_consents_and_offline_sessions_are_normalised_onto_grants(realm):
    grants = list(_connector(realm, page_size=2).list_grants())

    consent = next(g for g in grants if g.grant_type == "consent")
    assert (consent.idp_id, consent.subject, consent.client_id) == ("", "user-01", "billing-agent")
    assert consent.scopes == ("profile", "billing:read")
    assert consent.created.timestamp() == 1764000000
    offline = sorted(g.idp_id for g in grants if g.grant_type == "refresh_token")
    assert offline == ["off-0", "off-1", "off-2"]  # three sessions over two pages
    pages = [r.query for r in realm.requests if r.path.endswith("/offline-sessions")]
    assert ("2", "2") in {(q["first"], q["max"]) for q in pages}


# --- revoke and deactivate --------------------------------------------------------------------


def test_revoking_a_consent_drops_its_offline_tokens_and_a_second_revoke_is_already_absent(realm):
    connector = _connector(realm)
    consent = next(g for g in connector.list_grants() if g.grant_type == "consent")

    first = connector.revoke(consent)
    second = connector.revoke(consent)

    assert first.outcome == RevokeResult.REVOKED and first.target == "user-01/billing-agent"
    assert (second.outcome, second.status) == (RevokeResult.ALREADY_ABSENT, 404)
    assert list(connector.list_grants()) == []  # Keycloak dropped the offline sessions too


def test_revoking_an_offline_session_deletes_that_session_only(realm):
    connector = _connector(realm)
    session = next(g for g in connector.list_grants() if g.idp_id == "off-1")

    assert connector.revoke(session).outcome == RevokeResult.REVOKED
    assert connector.revoke(session).outcome == RevokeResult.ALREADY_ABSENT
    delete = next(r for r in realm.requests if r.method == "DELETE")
    assert delete.path.endswith("/sessions/off-1") and delete.query == {"isOffline": "true"}
    assert {g.idp_id for g in connector.list_grants()} == {"", "off-0", "off-2"}


def test_a_token_value_is_not_supported(realm):
    with pytest.raises(NotSupported) as caught:
        _connector(realm).revoke("eyJhbGciOi.token")

    assert caught.value.capability == "revoke"


def test_deactivating_a_client_puts_back_its_full_representation_disabled(realm):
    _connector(realm).deactivate("billing-agent")

    assert realm.clients["c-agent"]["enabled"] is False
    assert realm.clients["c-agent"]["name"] == "Billing agent"  # nothing else lost
    put = next(r for r in realm.requests if r.method == "PUT")
    assert put.path.endswith("/clients/c-agent")


def test_deactivating_an_unknown_client_is_an_error_naming_it(realm):
    with pytest.raises(ConnectorError) as caught:
        _connector(realm).deactivate("nobody")

    assert caught.value.error_code == "client_not_found" and "nobody" in str(caught.value)
    assert not [r for r in realm.requests if r.method == "PUT"]


# --- errors and verify ----------------------------------------------------------------------


def test_a_503_from_a_proxy_is_retryable_with_its_retry_after(realm):
    realm.fail_next(1, 503, {"Retry-After": "2"})

    with pytest.raises(ConnectorError) as caught:
        list(_connector(realm).list_clients())

    assert caught.value.retryable and caught.value.retry_after == 2.0


def test_a_missing_role_is_named_by_the_call_and_by_verify(realm):
    realm.roles = ["view-users"]
    connector = _connector(realm)

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_clients())
    assert caught.value.status == 403 and "view-clients" in str(caught.value)

    checks = {c.capability: c for c in connector.verify()}
    assert checks["list_identities"].ok
    assert not checks["list_clients"].ok and "view-clients" in checks["list_clients"].detail
    assert not checks["revoke"].ok and "manage-users" in checks["revoke"].detail
    assert not checks["deactivate"].ok and "manage-clients" in checks["deactivate"].detail


def test_manage_roles_imply_the_view_roles_in_verify(realm):
    realm.roles = ["manage-users", "manage-clients"]

    checks = {c.capability: c for c in _connector(realm).verify()}

    assert all(checks[c].ok for c in ("list_identities", "list_clients", "revoke", "deactivate"))
