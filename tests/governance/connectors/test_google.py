"""The google kind beyond the shared contract: its URLs against google-api-python-client's
discovery document for admin directory_v1, and the JWT assertion, delegated scopes,
pagination and rate errors against the scripted Google peer."""

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from googleapiclient.discovery import build
from googleapiclient.http import HttpMock

from governance.connectors import ConnectorError, IdpGrant, NotSupported, RevokeResult
from governance.connectors.google import GoogleConnector
from tests.governance.connectors.peers import _google_config
from tests.peers.google import SECURITY, USERS_READ, GooglePeer


@pytest.fixture
def server():
    peer = GooglePeer().start()
    peer.seed()
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def directory():
    """google-api-python-client's Directory API, built from the discovery document it ships."""
    return build(
        "admin", "directory_v1", http=HttpMock(None, {"status": "200"}), static_discovery=True
    )


def _connector(server, secret=None, **config) -> GoogleConnector:
    config = {**_google_config(server, server.url), **config}
    return GoogleConnector(config, secret or server.key_json())


def _api_requests(server):
    return [r for r in server.requests if r.raw_path.startswith("/admin/directory/v1/")]


def _same_url(sent, expected):
    """Method, percent-encoded path and parameters as the discovery document builds them."""
    parts = urlsplit(expected.uri)
    query = {k: v for k, v in parse_qsl(parts.query) if k != "alt"}  # the client's own alt=json
    assert (sent.method, sent.raw_path, sent.query) == (expected.method, parts.path, query)


def test_listing_users_and_their_tokens_uses_the_discovery_documents_urls(server, directory):
    list(_connector(server, page_size=2).list_grants())

    sent = _api_requests(server)
    users = [r for r in sent if r.raw_path.endswith("/users")]
    _same_url(users[0], directory.users().list(customer="my_customer", maxResults=2))
    _same_url(users[1], directory.users().list(customer="my_customer", maxResults=2, pageToken="2"))
    tokens = next(r for r in sent if r.raw_path.endswith("/200/tokens"))
    _same_url(tokens, directory.tokens().list(userKey="200"))


def test_revoking_deletes_where_the_discovery_document_says_and_a_repeat_is_absent(
    server, directory
):
    connector = _connector(server)
    grant = IdpGrant(idp_id="", subject="201", client_id="agent.apps.googleusercontent.com")

    assert connector.revoke(grant).outcome == RevokeResult.REVOKED
    _same_url(
        _api_requests(server)[-1],
        directory.tokens().delete(userKey="201", clientId="agent.apps.googleusercontent.com"),
    )
    assert connector.revoke(grant).outcome == RevokeResult.ALREADY_ABSENT
    assert "agent.apps.googleusercontent.com" not in server.tokens["201"]


def test_a_user_key_that_is_an_email_is_percent_encoded_like_the_client_library(server, directory):
    connector = _connector(server)
    grant = IdpGrant(idp_id="", subject="user0@example.test", client_id="x.apps")

    connector.revoke(grant)

    _same_url(
        _api_requests(server)[-1],
        directory.tokens().delete(userKey="user0@example.test", clientId="x.apps"),
    )


def test_the_scopes_asked_for_are_those_the_discovery_document_names(directory):
    methods = directory._resourceDesc["resources"]
    assert USERS_READ in methods["users"]["methods"]["list"]["scopes"]
    for name in ("list", "delete"):
        assert methods["tokens"]["methods"][name]["scopes"] == [SECURITY]


def test_grants_are_users_third_party_tokens_keyed_by_user_and_client(server):
    grants = list(_connector(server).list_grants())

    assert {(g.subject, g.client_id) for g in grants} == {
        (user, "agent.apps.googleusercontent.com") for user in ("200", "201", "202")
    }
    grant = grants[0]
    assert grant.idp_id == "" and grant.grant_type == "consent"
    assert grant.scopes == ("https://www.googleapis.com/auth/drive.readonly", "openid")
    assert grant.created is None and grant.raw["displayText"] == "Agent"


def test_identities_are_the_domains_users_with_suspension(server):
    identities = {i.subject: i for i in _connector(server).list_identities()}

    assert set(identities) == {"100", "200", "201", "202"}
    assert identities["201"].email == "user1@example.test"
    assert identities["201"].display_name == "User 1"
    assert identities["201"].active and not identities["202"].active


def test_the_assertion_is_signed_by_the_service_account_for_the_admin_and_scope(server):
    connector = _connector(server)

    list(connector.list_identities())

    (token_call,) = [r for r in server.requests if r.path == "/token"]
    assert token_call.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = server._verified_claims(token_call.form["assertion"])  # the signature checks out
    assert claims["sub"] == "admin@example.test" and claims["scope"] == USERS_READ
    assert claims["iss"] == server.client_email and claims["aud"] == server.token_url


def test_a_key_that_is_not_the_service_accounts_is_refused_at_the_token(server):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    connector = _connector(server, secret=server.key_json(private_key=other))

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_identities())

    assert (caught.value.status, caught.value.error_code) == (400, "invalid_grant")
    assert "BEGIN PRIVATE KEY" not in str(caught.value)


def test_verify_names_the_scope_the_domain_did_not_delegate(server):
    server.delegated = {USERS_READ}

    checks = {check.capability: check for check in _connector(server).verify()}

    assert checks["list_identities"].ok
    for capability in ("list_grants", "revoke"):
        assert not checks[capability].ok
        assert SECURITY in checks[capability].detail
        assert "unauthorized_client" in checks[capability].detail
    assert (
        not checks["list_clients"].ok and "lists no OAuth clients" in checks["list_clients"].detail
    )


def test_a_token_without_the_scope_is_a_403_naming_it(server):
    connector = _connector(server)
    list(connector.list_identities())
    connector._tokens[SECURITY] = connector._tokens[USERS_READ]  # the wrong token for tokens

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_grants())

    assert (caught.value.status, caught.value.error_code) == (403, "insufficientPermissions")
    assert SECURITY in str(caught.value) and not caught.value.retryable


def test_users_are_paged_and_a_repeated_page_token_stops_the_listing(server):
    assert len(list(_connector(server, page_size=1).list_identities())) == 4
    server.repeat_page_token = True

    with pytest.raises(ConnectorError) as caught:
        list(_connector(server, page_size=1).list_identities())

    assert caught.value.error_code == "repeated_cursor" and not caught.value.retryable


def test_directory_calls_are_spaced_to_the_per_minute_quota(server):
    connector = _connector(server, requests_per_minute=120)  # one call per half second
    waits = []
    connector.sleep = waits.append  # the clock does not move: each wait is one more interval

    list(connector.list_grants())  # the users page, then four users' tokens

    assert len(waits) == 4
    assert waits == sorted(waits) and 0 < waits[0] <= 0.5 and waits[-1] <= 2.0
    assert server.rate_limited == 0


def test_a_rate_limit_403_is_retryable_with_the_documented_backoff(server):
    server.limit = 2

    with pytest.raises(ConnectorError) as caught:
        list(_connector(server).list_grants())

    assert caught.value.status == 403 and caught.value.error_code == "userRateLimitExceeded"
    assert caught.value.retryable and caught.value.retry_after == 1.0
    assert server.rate_limited == 1


def test_a_429_is_retryable_with_its_retry_after(server):
    connector = _connector(server)
    list(connector.list_identities())
    server.fail_next(1, 429, {"error": {"code": 429}}, {"Retry-After": "12"})

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_identities())

    assert caught.value.retryable and caught.value.retry_after == 12.0


def test_a_429_without_retry_after_is_still_retryable(server):
    connector = _connector(server)
    list(connector.list_identities())
    server.fail_next(1, 429, {"error": {"code": 429}})

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_identities())

    assert caught.value.status == 429 and caught.value.retryable


def test_a_secret_that_is_not_a_key_file_is_refused_without_quoting_it():
    with pytest.raises(ConnectorError) as caught:
        GoogleConnector({"admin_email": "a@example.test"}, "hunter2-not-json")
    with pytest.raises(ConnectorError) as bad_key:
        key = {"client_email": "x@y", "private_key": "-----BEGIN hunter2"}
        GoogleConnector({"admin_email": "a@example.test"}, json.dumps(key))

    assert caught.value.error_code == bad_key.value.error_code == "invalid_secret"
    assert "hunter2" not in str(caught.value) + str(bad_key.value)


def test_token_values_clients_and_deactivation_are_not_supported_with_the_reason(server):
    connector = _connector(server)

    for call in (
        lambda: connector.revoke("ya29.token"),
        lambda: connector.deactivate("x.apps"),
        connector.list_clients,
    ):
        with pytest.raises(NotSupported):
            call()
    assert server.requests == []
