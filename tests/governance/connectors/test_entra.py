"""The entra kind: its URLs against msgraph-sdk's request builders, and its behaviour against
the scripted Graph peer (tests/peers/entra.py): pages, delta, throttling, revocation,
deactivation and verify's missing-permission reports."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.oauth2_permission_grants.oauth2_permission_grants_request_builder import (
    Oauth2PermissionGrantsRequestBuilder,
)
from msgraph.generated.service_principals.service_principals_request_builder import (
    ServicePrincipalsRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient

from governance.connectors import ConnectorError, IdpGrant, NotSupported, RevokeResult
from governance.connectors.base import GrantChanges, StateExpired
from governance.connectors.entra import EntraConnector
from tests.peers.entra import EntraPeer


@pytest.fixture
def graph():
    server = EntraPeer().start()
    yield server
    server.stop()


def _connector(graph, **config) -> EntraConnector:
    return EntraConnector({**graph.config(), **config}, graph.secret)


@pytest.fixture(scope="module")
def sdk():
    """msgraph-sdk's client, only to build request URLs (it never sends anything here)."""
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider())
    return GraphServiceClient(request_adapter=adapter)


def _same_url(ours: str, base: str, theirs: str) -> bool:
    """Same path under `base` and the same query options, whatever the percent-encoding."""
    a, b = urlsplit(ours), urlsplit(theirs)
    return a.path == urlsplit(base).path + b.path and parse_qs(a.query) == parse_qs(b.query)


# --- URLs: the SDK is the oracle ----------------------------------------------------------------


def _query(builder, **options):
    """A RequestConfiguration with `builder`'s own query-parameter class."""
    name = f"{builder.__name__}GetQueryParameters"
    return RequestConfiguration(query_parameters=getattr(builder, name)(**options))


def test_every_url_the_connector_builds_is_the_one_msgraph_sdk_builds(sdk):
    connector = EntraConnector({"tenant_id": "t", "client_id": "c"}, "s")
    users = _query(
        UsersRequestBuilder,
        select=["id,displayName,userPrincipalName,mail,accountEnabled"],
        expand=["manager($select=id)"],
        top=999,
    )
    principals = _query(
        ServicePrincipalsRequestBuilder,
        select=["id,appId,displayName,accountEnabled,servicePrincipalType,appRoles"],
        expand=["owners($select=id)"],
        top=999,
    )
    grants = sdk.oauth2_permission_grants
    sp = sdk.service_principals.by_service_principal_id("sp-1")
    assignment = sp.app_role_assigned_to.by_app_role_assignment_id("a-1")
    by_app_id = sdk.service_principals_with_app_id("app-1")
    pairs = [
        (connector.users_url(), sdk.users.to_get_request_information(users)),
        (connector.principals_url(), sdk.service_principals.to_get_request_information(principals)),
        (connector.grant_url(), grants.to_get_request_information()),
        (
            connector.url("/oauth2PermissionGrants", top=1),
            grants.to_get_request_information(_query(Oauth2PermissionGrantsRequestBuilder, top=1)),
        ),
        (
            connector.url("/oauth2PermissionGrants/delta()"),
            grants.delta.to_get_request_information(),
        ),
        (
            connector.grant_url("g 1"),
            grants.by_o_auth2_permission_grant_id("g 1").to_delete_request_information(),
        ),
        (connector.assigned_to_url("sp-1"), sp.app_role_assigned_to.to_get_request_information()),
        (connector.assigned_to_url("sp-1", "a-1"), assignment.to_delete_request_information()),
        (
            connector.sign_in_sessions_url("u-1"),
            sdk.users.by_user_id("u-1").revoke_sign_in_sessions.to_post_request_information(),
        ),
        (
            connector.principal_by_app_id_url("app-1"),
            by_app_id.to_patch_request_information(ServicePrincipal(account_enabled=False)),
        ),
    ]
    for ours, info in pairs:
        assert _same_url(ours, connector.graph_url, info.url), (ours, info.url)


def test_the_token_request_is_client_credentials_for_the_graph_default_scope(graph):
    list(_connector(graph).list_clients())

    token = next(r for r in graph.requests if r.path.endswith("/token"))
    assert token.path == "/contoso-tenant/oauth2/v2.0/token"
    assert token.form["grant_type"] == "client_credentials"
    assert token.form["scope"] == "https://graph.microsoft.com/.default"


# --- listing --------------------------------------------------------------------------------


def test_users_come_with_their_manager_and_service_principals_as_services_or_agents(graph):
    identities = {i.subject: i for i in _connector(graph).list_identities()}

    assert identities["u-alice"].manager == "u-bob" and identities["u-alice"].kind == "human"
    assert identities["u-bob"].email == "bob@contoso.test"  # no mail: the UPN
    assert not identities["u-carol"].active
    assert identities["sp-agent"].kind == "agent" and identities["sp-svc"].kind == "service"
    # Owners come along with the principals: an agent's owner is the person answering for it.
    assert identities["sp-agent"].owner == "u-alice" and identities["sp-svc"].owner == "u-bob"
    assert identities["u-alice"].owner == ""


def test_clients_are_keyed_by_app_id_and_grants_name_the_app_id_not_the_object_id(graph):
    connector = _connector(graph)
    clients = {c.client_id: c for c in connector.list_clients()}
    grants = {g.idp_id: g for g in connector.list_grants()}

    assert clients["app-agent"].idp_id == "sp-agent"
    assert grants["g-alice"].client_id == "app-agent" and grants["g-alice"].subject == "u-alice"
    assert grants["g-alice"].scopes == ("User.Read", "Mail.Read")
    assert grants["g-alice"].grant_type == "consent" and grants["g-alice"].created is None
    assert grants["g-tenant"].subject == ""  # AllPrincipals: every user of the tenant
    m2m = grants["a-svc"]
    assert (m2m.grant_type, m2m.subject, m2m.client_id) == (
        "application_permission",
        "sp-svc",
        "app-svc",
    )
    assert m2m.scopes == ("User.Read.All",) and m2m.created.year == 2026
    assert "a-user" not in grants  # a user's app-role assignment is no client's grant


def test_collections_follow_next_links_page_by_page(graph):
    graph.page_limit = 1

    assert len(list(_connector(graph).list_identities())) == 6

    pages = [r for r in graph.requests if r.path == "/v1.0/users"]
    assert [r.query.get("$skiptoken") for r in pages] == [None, "1", "2"]


def test_a_next_link_that_repeats_itself_ends_the_listing_with_an_error(graph):
    graph.page_limit, graph.repeat_cursor = 1, True

    with pytest.raises(ConnectorError) as caught:
        list(_connector(graph).list_identities())

    assert caught.value.error_code == "repeated_cursor"
    # The repeated link is never asked for: page one, page two (naming itself as next), stop.
    assert len([r for r in graph.requests if r.path == "/v1.0/users"]) == 2


# --- delta ----------------------------------------------------------------------------------


def test_delta_returns_every_grant_then_only_what_changed_since_its_state(graph):
    connector = _connector(graph)
    first = connector.grant_changes()
    assert isinstance(first, GrantChanges)
    assert {g.idp_id for g in first.changed} == {"g-alice", "g-tenant"} and not first.removed

    connector.revoke(next(g for g in first.changed if g.idp_id == "g-alice"))
    graph.put_grant("g-new", "sp-agent", "u-bob", "Files.Read")
    second = connector.grant_changes(first.state)

    assert [g.idp_id for g in second.changed] == ["g-new"]
    assert second.changed[0].client_id == "app-agent"
    assert second.removed == ("g-alice",)
    third = connector.grant_changes(second.state)
    assert third.changed == () and third.removed == () and third.state == second.state


def test_an_expired_delta_state_is_an_error_that_says_to_start_again(graph):
    connector = _connector(graph)
    stale = f"{graph.graph_url}/oauth2PermissionGrants/delta()?$deltatoken=forgotten"

    with pytest.raises(ConnectorError) as caught:
        connector.grant_changes(stale)

    assert caught.value.status == 410 and "grant_changes('')" in str(caught.value)
    assert isinstance(caught.value, StateExpired)  # what the sync reads as "start a full round"
    assert len(connector.grant_changes("").changed) == 2


# --- throttling and outages -------------------------------------------------------------------


def test_a_429_is_a_retryable_error_carrying_graphs_retry_after(graph):
    graph.fail_next(
        1, 429, headers={"Retry-After": "3"}, body={"error": {"code": "TooManyRequests"}}
    )

    with pytest.raises(ConnectorError) as caught:
        list(_connector(graph).list_grants())

    assert caught.value.status == 429 and caught.value.retryable
    assert caught.value.retry_after == 3.0 and caught.value.call == "list_grants"


def test_a_503_is_retryable_with_or_without_retry_after(graph):
    graph.fail_next(1, 503, headers={"Retry-After": "7"})
    with pytest.raises(ConnectorError) as caught:
        list(_connector(graph).list_clients())
    assert caught.value.retryable and caught.value.retry_after == 7.0

    graph.fail_next(1, 503, body={"error": {"code": "serviceNotAvailable", "message": "later"}})
    with pytest.raises(ConnectorError) as caught:
        list(_connector(graph).list_clients())
    assert caught.value.retryable and caught.value.error_code == "serviceNotAvailable"


def test_an_expired_token_is_fetched_again_once_and_the_call_goes_through(graph):
    connector = _connector(graph)
    list(connector.list_clients())
    graph.tokens.clear()  # the IdP no longer accepts the token the connector holds

    assert len(list(connector.list_identities())) == 6
    assert len([r for r in graph.requests if r.path.endswith("/token")]) == 2


# --- revoke and deactivate --------------------------------------------------------------------


def test_revoking_a_delegated_grant_deletes_it_and_a_second_revoke_is_already_absent(graph):
    connector = _connector(graph)
    grant = next(g for g in connector.list_grants() if g.idp_id == "g-alice")

    assert connector.revoke(grant).outcome == RevokeResult.REVOKED
    assert "g-alice" not in graph.grants
    second = connector.revoke(grant)
    assert (second.outcome, second.status) == (RevokeResult.ALREADY_ABSENT, 404)


def test_a_missing_app_role_assignment_is_already_absent_only_after_a_get_confirms_it(graph):
    connector = _connector(graph)
    grant = next(g for g in connector.list_grants() if g.idp_id == "a-svc")
    connector.revoke(grant)

    again = connector.revoke(grant)  # Graph answers 400 "EntitlementGrant ... not found"

    assert again.outcome == RevokeResult.ALREADY_ABSENT
    assert [r.method for r in graph.requests if r.path.endswith("/a-svc")] == [
        "DELETE",
        "DELETE",
        "GET",
    ]


def test_a_token_value_is_not_supported_and_sign_in_sessions_are_a_separate_action(graph):
    connector = _connector(graph)
    with pytest.raises(NotSupported) as caught:
        connector.revoke("eyJ0eXAi.token")
    assert "revoke_sign_in_sessions" in str(caught.value)

    result = connector.revoke_sign_in_sessions("u-alice")

    assert result.outcome == RevokeResult.REVOKED and graph.revoked_sessions == ["u-alice"]
    assert connector.revoke_sign_in_sessions("nobody").outcome == RevokeResult.ALREADY_ABSENT


def test_deactivating_a_client_disables_its_service_principal(graph):
    _connector(graph).deactivate("app-agent")

    assert graph.principals["sp-agent"]["accountEnabled"] is False
    patch = next(r for r in graph.requests if r.method == "PATCH")
    assert patch.json() == {"accountEnabled": False}


def test_deactivating_an_unknown_app_is_an_error_naming_the_call(graph):
    with pytest.raises(ConnectorError) as caught:
        _connector(graph).deactivate("no-such-app")

    assert (caught.value.call, caught.value.status) == ("deactivate", 404)


# --- verify ---------------------------------------------------------------------------------


def test_verify_names_the_graph_permission_each_capability_lacks(graph):
    graph.roles = ["User.Read.All"]

    checks = {c.capability: c for c in _connector(graph).verify()}

    assert checks["list_identities"].ok
    assert not checks["list_clients"].ok and "Application.Read.All" in checks["list_clients"].detail
    assert "403" in checks["list_grants"].detail
    assert "DelegatedPermissionGrant.ReadWrite.All" in checks["revoke"].detail
    assert (
        not checks["deactivate"].ok and "Application.ReadWrite.All" in checks["deactivate"].detail
    )
    assert not checks["introspect"].ok


def test_a_wrong_secret_never_appears_in_the_error_or_the_connector(graph):
    connector = EntraConnector(graph.config(), "wrong-secret-value")

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_clients())

    assert caught.value.status == 401 and "AADSTS7000215" in str(caught.value)
    assert "wrong-secret-value" not in str(caught.value) + repr(connector) + repr(connector.session)


def test_revoking_an_app_permission_needs_its_resource(graph):
    connector = _connector(graph)
    grant = IdpGrant("a-svc", "sp-svc", "app-svc", grant_type="application_permission")

    # Without the raw record the resource is unknown: no call is made blind.
    with pytest.raises(ConnectorError) as caught:
        connector.revoke(grant)
    assert caught.value.error_code == "incomplete_grant"
    assert not [r for r in graph.requests if r.method == "DELETE"]


def test_a_next_link_to_another_host_is_refused_before_the_token_goes_there():
    seen = []

    def handler(request):
        seen.append(request.url.host)
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        link = "https://graph.evil.example/v1.0/users?$skiptoken=2"
        return httpx.Response(200, json={"value": [{"id": "u"}], "@odata.nextLink": link})

    connector = EntraConnector(
        {"tenant_id": "t", "client_id": "c"}, "s", mock=httpx.MockTransport(handler)
    )

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_identities())

    assert caught.value.error_code == "foreign_next_link"
    assert "graph.evil.example" not in seen
