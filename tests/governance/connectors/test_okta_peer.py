"""The okta kind against Prism serving Okta's own spec (`--errors`: a request the spec does not
allow fails), beyond the shared contract: what is listed, where it is revoked, and the error
branches forced with `Prefer: code=...`."""

import datetime

import httpx
import pytest

from governance.connectors import ConnectorError, IdpGrant, NotSupported, RevokeResult
from governance.connectors.okta import SCOPES, OktaConnector, answers
from tests.governance.connectors.peers import okta_token_server, start_okta_peer


@pytest.fixture(scope="module")
def okta():
    yield from start_okta_peer()


def _connector(okta, **headers) -> OktaConnector:
    """A connector whose API calls carry `headers` (Prism's Prefer), for error branches."""
    return OktaConnector(okta.config, okta.secret, extra_headers=headers)


def test_the_peer_refuses_what_oktas_spec_does_not_allow(okta):
    base = okta.config["base_url"]
    bearer = {"Authorization": "Bearer anything"}

    # A limit over the spec's maximum, and a call without credentials: both refused.
    assert httpx.get(f"{base}/api/v1/users/u1/grants?limit=9999", headers=bearer).status_code == 422
    assert httpx.get(f"{base}/api/v1/users").status_code == 401


def test_users_become_identities_with_their_profile_and_manager_kept(okta):
    identities = list(okta.connector().list_identities())

    alice = next(i for i in identities if i.email == "alice.smith@example.com")
    assert (alice.display_name, alice.active) == ("Alice Smith", True)
    assert alice.subject == alice.idp_id == "00u118oQYT4TBTemp0g4"
    assert alice.raw["profile"]["login"] == "alice.smith@example.com"
    assert alice.manager == ""  # Okta's example profile names no managerId


def test_a_users_manager_is_the_profiles_manager_id():
    user = {"id": "00u2", "status": "ACTIVE", "profile": {"managerId": "00u1", "manager": "Ann"}}

    assert answers.identity(user).manager == "00u1"


def test_apps_become_clients(okta):
    clients = list(okta.connector().list_clients())

    assert clients and all(c.client_id and c.idp_id for c in clients)
    assert {c.raw["signOnMode"] for c in clients}  # the app record is kept whole


def test_every_kind_of_okta_grant_is_listed_and_normalised(okta):
    grants = list(okta.connector().list_grants())
    by_type = {}
    for grant in grants:
        by_type.setdefault(grant.grant_type, []).append(grant)

    assert set(by_type) == {"consent", "refresh_token", "application_permission", "jwt_bearer"}
    consent = by_type["consent"][0]
    assert consent.subject == consent.raw["userId"] and consent.scopes == ("okta.users.read",)
    assert consent.created == datetime.datetime(2017, 3, 28, 1, 11, 10, tzinfo=datetime.UTC)
    token = by_type["refresh_token"][0]
    assert token.scopes == ("offline_access", "car:drive") and token.expires is not None
    assert token.client_id == "0oabskvc6442nkvQO0h7" and token.subject == "00u5t60iloOHN9pBi0h7"
    # Every app lists the same Cross App Access connection: it is one grant, not one per app.
    (connection,) = by_type["jwt_bearer"]
    assert connection.client_id == connection.raw["requestingAppInstanceId"]


@pytest.mark.parametrize("grant_type", ["consent", "refresh_token", "application_permission"])
def test_each_kind_of_listed_grant_is_revoked_at_its_own_okta_path(okta, grant_type):
    connector = okta.connector()
    grant = next(g for g in connector.list_grants() if g.grant_type == grant_type)

    result = connector.revoke(grant)

    # 204 only from a path and method the spec has (an unknown path would be Prism's 404).
    assert (result.outcome, result.status) == (RevokeResult.REVOKED, 204)
    assert grant.idp_id in result.endpoint


def test_a_cross_app_access_connection_is_revoked_by_deleting_it(okta):
    connector = okta.connector()
    connection = next(g for g in connector.list_grants() if g.grant_type == "jwt_bearer")

    result = connector.revoke(connection)

    assert result.outcome == RevokeResult.REVOKED
    assert result.endpoint.endswith(
        f"/api/v1/apps/{connection.client_id}/cwo/connections/{connection.idp_id}"
    )


def test_a_revoke_answered_404_counts_as_already_revoked(okta):
    grant = IdpGrant(idp_id="oag1", subject="00u1", client_id="0oa1", grant_type="consent")

    result = _connector(okta, Prefer="code=404").revoke(grant)

    assert (result.outcome, result.status) == (RevokeResult.ALREADY_ABSENT, 404)


def test_a_grant_missing_an_id_is_refused_before_any_request(okta):
    # DELETE /api/v1/users/{uid}/grants/ would be Okta's "revoke all of this user's grants".
    grant = IdpGrant(idp_id="", subject="00u1", client_id="0oa1", grant_type="consent")

    with pytest.raises(ConnectorError) as caught:
        okta.connector().revoke(grant)

    assert caught.value.error_code == "incomplete_grant" and caught.value.status is None


def test_revoking_a_token_value_is_not_supported(okta):
    with pytest.raises(NotSupported) as caught:
        okta.connector().revoke("a-refresh-token-value")

    assert "listed grant" in str(caught.value)


def test_deactivating_an_app_posts_its_lifecycle_and_a_missing_app_is_an_error(okta):
    okta.connector().deactivate("0oabskvc6442nkvQO0h7")

    with pytest.raises(ConnectorError) as caught:
        _connector(okta, Prefer="code=404").deactivate("0oa-none")

    assert caught.value.status == 404 and caught.value.error_code == "E0000007"


def test_a_403_names_the_scope_the_service_app_lacks(okta):
    connector = _connector(okta, Prefer="code=403")

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_identities())

    assert caught.value.status == 403 and not caught.value.retryable
    assert "okta.users.read" in str(caught.value)
    checks = {check.capability: check for check in connector.verify()}
    assert not checks["list_clients"].ok and "okta.apps.read" in checks["list_clients"].detail


def test_a_429_is_retryable_and_says_when_to_come_back(okta):
    with pytest.raises(ConnectorError) as caught:
        list(_connector(okta, Prefer="code=429").list_clients())

    assert caught.value.status == 429 and caught.value.retryable
    assert caught.value.retry_after == 60.0  # no window seen yet: Okta's windows are a minute


def test_verify_names_a_scope_the_app_was_not_granted(okta):
    every_scope = {scope for scopes in SCOPES.values() for scope in scopes}
    with okta_token_server(granted=every_scope - {"okta.apps.manage"}) as (server, pem):
        config = {
            **okta.config,
            "client_id": server.client_id,
            "token_url": server.url + "/oauth2/v1/token",
        }
        checks = {c.capability: c for c in OktaConnector(config, pem).verify()}

    assert not checks["deactivate"].ok and "okta.apps.manage" in checks["deactivate"].detail
    assert not checks["revoke"].ok and "okta.apps.manage" in checks["revoke"].detail
    assert checks["list_identities"].ok and checks["list_grants"].ok
    assert not checks["introspect"].ok  # not an Okta capability at all


def test_one_token_per_scope_set_is_asked_for_and_reused(okta):
    server = okta.facts["token_server"]
    before = len(server.tokens)
    connector = okta.connector()

    list(connector.list_identities())
    list(connector.list_identities())
    list(connector.list_clients())

    assert len(server.tokens) - before == 2  # okta.users.read, then okta.apps.read
    assert {"okta.users.read"} in server.tokens.values()
