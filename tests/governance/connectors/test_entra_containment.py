"""The entra kind's containment calls (issue 13): their URLs against msgraph-sdk's request
builders, and their semantics against the scripted Graph peer (tests/peers/entra.py):
revokeSignInSessions' 200 with a body, a second delete's 404, Retry-After on 429, the missing
permission named on 403, and an Entra Agent ID disabled through its own update path."""

import pytest
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.oauth2_permission_grants.oauth2_permission_grants_request_builder import (
    Oauth2PermissionGrantsRequestBuilder,
)
from msgraph.generated.service_principals_with_app_id.service_principals_with_app_id_request_builder import (  # noqa: E501
    ServicePrincipalsWithAppIdRequestBuilder,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient

from governance.connectors import ConnectorError, NotSupported, RevokeResult
from governance.connectors.entra import EntraConnector
from tests.governance.connectors.test_entra import _same_url
from tests.peers.entra import EntraPeer


@pytest.fixture
def graph():
    server = EntraPeer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sdk():
    """msgraph-sdk's client, only to build request URLs (it never sends anything here)."""
    return GraphServiceClient(
        request_adapter=GraphRequestAdapter(AnonymousAuthenticationProvider())
    )


def _connector(graph: EntraPeer) -> EntraConnector:
    return EntraConnector(graph.config(), graph.secret)


def _query(builder, **options):
    name = f"{builder.__name__}GetQueryParameters"
    return RequestConfiguration(query_parameters=getattr(builder, name)(**options))


def _calls(graph: EntraPeer) -> list[str]:
    return [
        f"{r.method} {r.path.removeprefix('/v1.0')}" for r in graph.requests if "/v1.0" in r.path
    ]


def test_the_containment_urls_are_the_ones_msgraph_sdk_builds(sdk):
    connector = EntraConnector({"tenant_id": "t", "client_id": "c"}, "s")
    condition = "clientId eq 'sp-1' and principalId eq 'u-1'"
    fields = "id,appId,displayName,accountEnabled"
    pairs = [
        (
            connector.grants_where_url(clientId="sp-1", principalId="u-1"),
            sdk.oauth2_permission_grants.to_get_request_information(
                _query(Oauth2PermissionGrantsRequestBuilder, filter=condition)
            ),
        ),
        (
            connector.principal_by_app_id_url("app-1", select=fields),
            sdk.service_principals_with_app_id("app-1").to_get_request_information(
                _query(ServicePrincipalsWithAppIdRequestBuilder, select=[fields])
            ),
        ),
        (
            connector.role_assignments_url("sp-1"),
            sdk.service_principals.by_service_principal_id(
                "sp-1"
            ).app_role_assignments.to_get_request_information(),
        ),
        (
            connector.user_url("u-1"),
            sdk.users.by_user_id("u-1").to_get_request_information(
                _query(UserItemRequestBuilder, select=["id"])
            ),
        ),
    ]
    for ours, info in pairs:
        assert _same_url(ours, connector.graph_url, info.url), (ours, info.url)
    # Graph's agentidentity-update path: msgraph-sdk 1.65.0's v1.0 builders have none to compare.
    assert connector.agent_identity_url("sp-1").endswith(
        "/servicePrincipals/sp-1/microsoft.graph.agentIdentity"
    )


def test_a_users_grants_to_one_client_are_found_by_filter_and_deleted(graph):
    connector = _connector(graph)
    (grant,) = connector.grants_for("u-alice", "app-agent")
    assert (grant.idp_id, grant.client_id, grant.subject) == ("g-alice", "app-agent", "u-alice")

    (first,) = connector.revoke_user_client("u-alice", "app-agent")
    (second,) = connector.revoke_user_client("u-alice", "app-agent")

    assert (first.outcome, first.status) == (RevokeResult.REVOKED, 204)
    assert second.outcome == RevokeResult.ALREADY_ABSENT
    assert connector.grants_for("u-alice", "app-agent") == []
    assert "g-tenant" in graph.grants  # another client's tenant-wide consent is left alone
    assert "GET /oauth2PermissionGrants" in _calls(graph)


def test_a_client_the_tenant_does_not_have_holds_no_grants(graph):
    assert _connector(graph).grants_for("u-alice", "app-unknown") == []


def test_cutting_off_a_user_revokes_sign_in_sessions_answered_200_with_a_body(graph):
    connector = _connector(graph)

    (result,) = connector.cut_off_identity("u-alice")
    (unknown,) = connector.cut_off_identity("u-nobody")

    assert (result.outcome, result.status) == (RevokeResult.REVOKED, 200)
    assert graph.revoked_sessions == ["u-alice"]
    # A user Graph does not have: 404, confirmed by reading the user (404 too).
    assert (unknown.outcome, unknown.status) == (RevokeResult.ALREADY_ABSENT, 404)
    assert "GET /users/u-nobody" in _calls(graph)


def test_a_sign_in_session_revoke_answered_value_false_is_an_error(graph):
    graph.fail_next(1, 200, body={"value": False})

    with pytest.raises(ConnectorError) as caught:
        _connector(graph).cut_off_identity("u-alice")

    assert caught.value.error_code == "not_revoked"


def test_a_clients_own_grants_go_delegated_and_application_permissions_alike(graph):
    connector = _connector(graph)

    first = connector.revoke_client_grants("app-svc")
    (second,) = connector.revoke_client_grants("app-svc")

    assert {(r.target, r.outcome) for r in first} == {
        ("g-tenant", RevokeResult.REVOKED),
        ("a-svc", RevokeResult.REVOKED),
    }
    assert "g-tenant" not in graph.grants and "a-svc" not in graph.assignments["sp-graph"]
    assert second.outcome == RevokeResult.ALREADY_ABSENT
    assert "DELETE /servicePrincipals/sp-graph/appRoleAssignedTo/a-svc" in _calls(graph)
    with pytest.raises(NotSupported):
        connector.reactivate_client_grants("app-svc")


def test_an_agent_identity_is_disabled_through_its_own_update_path_and_reenabled(graph):
    connector = _connector(graph)

    connector.deactivate("app-agent")
    inactive = connector.client_active("app-agent")
    connector.reactivate("app-agent")

    assert (inactive, connector.client_active("app-agent")) == (False, True)
    patches = [c for c in _calls(graph) if c.startswith("PATCH")]
    assert patches == ["PATCH /servicePrincipals/sp-agent/microsoft.graph.agentIdentity"] * 2


def test_an_ordinary_service_principal_is_disabled_by_app_id(graph):
    _connector(graph).deactivate("app-svc")

    assert graph.principals["sp-svc"]["accountEnabled"] is False
    assert [c for c in _calls(graph) if c.startswith("PATCH")] == [
        "PATCH /servicePrincipals(appId='app-svc')"
    ]


def test_throttling_says_when_to_come_back(graph):
    connector = _connector(graph)
    connector.client_active("app-agent")  # the token first: faults script the API only
    graph.throttle(1, 3, body={"error": {"code": "TooManyRequests", "message": "later"}})

    with pytest.raises(ConnectorError) as caught:
        connector.revoke_user_client("u-alice", "app-agent")

    assert caught.value.status == 429 and caught.value.retry_after == 3.0


def test_a_missing_permission_is_named(graph):
    graph.roles = [r for r in graph.roles if r != "User.RevokeSessions.All"]

    with pytest.raises(ConnectorError) as caught:
        _connector(graph).cut_off_identity("u-alice")

    assert caught.value.status == 403 and "User.RevokeSessions.All" in str(caught.value)
    checks = {c.capability: c for c in _connector(graph).verify()}
    assert not checks["cut_off_identity"].ok and checks["revoke_user_client"].ok
