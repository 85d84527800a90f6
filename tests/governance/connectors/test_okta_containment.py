"""The okta kind's containment calls (issue 13) against Prism serving Okta's own spec
(`--errors`: a call whose path, method, query or body the spec does not allow fails), with the
404 and 429 branches forced by `Prefer: code=...`, and the answers Prism cannot give (a 404 for
something still listed) through httpx.MockTransport."""

import httpx
import pytest

from governance.connectors import ConnectorError, RevokeResult
from governance.connectors.okta import OktaConnector
from tests.governance.connectors.peers import OKTA_EXAMPLE_APP, okta_key, start_okta_peer

USER, CLIENT = "00u5t60iloOHN9pBi0h7", "0oabskvc6442nkvQO0h7"  # the spec's example ids
# The requesting app of the spec's Cross App Access connection example.
REQUESTING_APP = "0oafxqCAJWWGELFTYASJ"


@pytest.fixture(scope="module")
def okta():
    yield from start_okta_peer()


def _connector(okta, **headers) -> OktaConnector:
    """A connector whose API calls carry `headers` (Prism's Prefer), for error branches."""
    return OktaConnector(okta.config, okta.secret, extra_headers=headers)


def _paths(results):
    return [r.endpoint.split("/api/v1/", 1)[1] for r in results]


def test_what_a_user_granted_a_client_is_listed_from_both_of_oktas_lists(okta):
    grants = okta.connector().grants_for(USER, CLIENT)

    assert {g.grant_type for g in grants} == {"consent", "refresh_token"}
    assert all(g.raw for g in grants)


def test_revoking_a_user_client_pair_deletes_its_grants_and_its_refresh_tokens(okta):
    results = okta.connector().revoke_user_client(USER, CLIENT)

    assert [(r.outcome, r.status) for r in results] == [(RevokeResult.REVOKED, 204)] * 2
    assert _paths(results) == [
        f"users/{USER}/clients/{CLIENT}/grants",
        f"users/{USER}/clients/{CLIENT}/tokens",
    ]


def test_cutting_off_a_user_ends_sessions_with_oauth_tokens_and_keeps_remembered_devices(okta):
    (result,) = okta.connector().cut_off_identity(USER)

    assert (result.outcome, result.status) == (RevokeResult.REVOKED, 204)
    assert result.endpoint.endswith(
        f"/api/v1/users/{USER}/sessions?oauthTokens=true&forgetDevices=false"
    )


def test_an_apps_own_grants_go_and_its_cross_app_access_connection_is_set_inactive(okta):
    results = okta.connector().revoke_client_grants(REQUESTING_APP)

    by_path = {path: r for path, r in zip(_paths(results), results, strict=True)}
    app = f"apps/{REQUESTING_APP}"
    assert by_path[f"{app}/tokens"].outcome == RevokeResult.REVOKED
    grants = [p for p in by_path if p.startswith(f"{app}/grants/")]
    assert grants and all(by_path[p].status == 204 for p in grants)
    (connection,) = [p for p in by_path if "/cwo/connections/" in p]
    # A PATCH Prism accepted: the spec's body, {"status": "INACTIVE"}, answered 200.
    assert (by_path[connection].outcome, by_path[connection].status) == (RevokeResult.REVOKED, 200)


def test_a_connection_already_active_is_not_patched_again_on_undo(okta):
    (result,) = okta.connector().reactivate_client_grants(REQUESTING_APP)

    # The spec's example connection is ACTIVE: nothing to restore, no call.
    assert (result.outcome, result.status) == (RevokeResult.ALREADY_ABSENT, None)


def test_an_app_is_reactivated_and_its_status_read_from_the_app_list(okta):
    connector = okta.connector()

    connector.deactivate(OKTA_EXAMPLE_APP)
    connector.reactivate(OKTA_EXAMPLE_APP)

    assert connector.client_active(OKTA_EXAMPLE_APP) is True
    with pytest.raises(ConnectorError) as caught:
        connector.client_active("0oaNotListed")
    assert caught.value.error_code == "no_app"


def test_a_404_is_already_absent_once_the_confirming_read_finds_nothing(okta):
    connector = _connector(okta, Prefer="code=404")

    pair = connector.revoke_user_client(USER, CLIENT)
    (cut_off,) = connector.cut_off_identity(USER)
    app = connector.revoke_client_grants(REQUESTING_APP)

    for result in (*pair, cut_off, *app):
        assert (result.outcome, result.status) == (RevokeResult.ALREADY_ABSENT, 404)
    assert connector.grants_for(USER, CLIENT) == []  # Okta knows no such user or client


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.revoke_user_client(USER, CLIENT),
        lambda c: c.cut_off_identity(USER),
        lambda c: c.revoke_client_grants(REQUESTING_APP),
        lambda c: c.reactivate(OKTA_EXAMPLE_APP),
        lambda c: c.client_active(OKTA_EXAMPLE_APP),
    ],
    ids=["revoke_user_client", "cut_off_identity", "revoke_client_grants", "reactivate", "active"],
)
def test_a_429_is_retryable_and_says_when_to_come_back(okta, call):
    with pytest.raises(ConnectorError) as caught:
        call(_connector(okta, Prefer="code=429"))

    assert caught.value.status == 429 and caught.value.retryable
    assert caught.value.retry_after == 60.0  # no window seen yet: Okta's windows are a minute


def test_verify_reports_each_containment_call_with_its_scopes(okta):
    checks = {c.capability: c for c in okta.connector().verify()}

    for capability in ("revoke_user_client", "cut_off_identity", "revoke_client_grants"):
        assert checks[capability].ok, checks[capability]
    assert "okta.appGrants.manage" in checks["revoke_client_grants"].detail


def test_a_404_for_a_consent_okta_still_lists_is_an_error_not_a_success():
    pem, _ = okta_key()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/v1/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if request.method == "DELETE":
            return httpx.Response(404, json={"errorCode": "E0000007"})
        consent = {"id": "oag1", "userId": USER, "clientId": CLIENT, "scopeId": "s"}
        return httpx.Response(200, json=[consent] if request.url.path.endswith("/grants") else [])

    config = {"domain": "acme.okta.com", "client_id": "0oaConsole"}
    connector = OktaConnector(config, pem, mock=httpx.MockTransport(answer))

    with pytest.raises(ConnectorError) as caught:
        connector.revoke_user_client(USER, CLIENT)

    assert caught.value.error_code == "still_listed" and caught.value.retryable
    assert f"{USER}/{CLIENT}/grants" in str(caught.value)


def test_undo_sets_an_inactive_connection_active_again_and_says_restored():
    pem, _ = okta_key()
    patched = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/v1/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if request.method == "PATCH":
            patched.append((request.url.path, request.content))
            return httpx.Response(200, json={"id": "cwo1", "status": "ACTIVE"})
        mine = {"id": "cwo1", "requestingAppInstanceId": "0oaAgent", "status": "INACTIVE"}
        theirs = {"id": "cwo2", "requestingAppInstanceId": "0oaOther", "status": "INACTIVE"}
        return httpx.Response(200, json=[mine, theirs])

    config = {"domain": "acme.okta.com", "client_id": "0oaConsole"}
    connector = OktaConnector(config, pem, mock=httpx.MockTransport(answer))

    (result,) = connector.reactivate_client_grants("0oaAgent")

    assert (result.outcome, result.target) == (RevokeResult.RESTORED, "cwo1")
    # Only the connection the app requests; another agent's access to it is not its own.
    assert patched == [("/api/v1/apps/0oaAgent/cwo/connections/cwo1", b'{"status":"ACTIVE"}')]
