"""The oauth kind against answers no real peer gives: httpx.MockTransport, no network."""

import base64
import urllib.parse

import httpx
import pytest

from governance.connectors import ConnectorError, NotSupported, connector_for
from governance.connectors.oauth import OAuthConnector

ISSUER = "https://as.example.test"


def _metadata(**overrides):
    metadata = {
        "issuer": ISSUER,
        "token_endpoint": f"{ISSUER}/token",
        "introspection_endpoint": f"{ISSUER}/introspect",
        "revocation_endpoint": f"{ISSUER}/revoke",
    }
    metadata.update(overrides)
    return {k: v for k, v in metadata.items() if v is not None}


def _connector(routes, *, secret="s3cret", **config):
    """An oauth connector whose HTTP is answered by `routes`: {(method, path): Response}."""
    seen = []

    def handler(request):
        seen.append(request)
        answer = routes.get((request.method, request.url.path))
        return answer(request) if callable(answer) else (answer or httpx.Response(404))

    config = {"issuer": ISSUER, "client_id": "console", **config}
    connector = OAuthConnector(config, secret, mock=httpx.MockTransport(handler))
    connector.seen = seen
    return connector


def _discovery(**overrides):
    return {
        ("GET", "/.well-known/openid-configuration"): httpx.Response(
            200, json=_metadata(**overrides)
        )
    }


def test_a_discovery_answer_that_is_not_json_is_a_connector_error_naming_discovery():
    connector = _connector(
        {("GET", "/.well-known/openid-configuration"): httpx.Response(200, text="<html>login")}
    )

    with pytest.raises(ConnectorError) as caught:
        connector.revoke("tok")

    assert caught.value.call == "discovery"
    assert caught.value.error_code == "invalid_json"
    assert "/.well-known/openid-configuration" in str(caught.value)


def test_discovery_falls_back_to_rfc_8414_with_the_issuer_path_inserted():
    issuer = f"{ISSUER}/tenant-a"
    routes = {
        ("GET", "/.well-known/oauth-authorization-server/tenant-a"): httpx.Response(
            200, json=_metadata(issuer=issuer)
        ),
        ("POST", "/revoke"): httpx.Response(200),
    }
    connector = _connector(routes, issuer=issuer)

    assert connector.revoke("tok").outcome == "revoked"


def test_metadata_naming_another_issuer_is_refused():
    connector = _connector(_discovery(issuer="https://evil.example.test"))

    with pytest.raises(ConnectorError) as caught:
        connector.introspect("tok")

    assert caught.value.error_code == "issuer_mismatch"


def test_a_500_on_revoke_is_a_retryable_connector_error_with_the_status():
    routes = {**_discovery(), ("POST", "/revoke"): httpx.Response(500, text="boom")}

    with pytest.raises(ConnectorError) as caught:
        _connector(routes).revoke("tok")

    assert (caught.value.call, caught.value.status) == ("revoke", 500)
    assert caught.value.retryable
    assert f"{ISSUER}/revoke" in str(caught.value)


def test_a_503_with_retry_after_carries_the_wait():
    answer = httpx.Response(503, headers={"Retry-After": "30"}, json={"error": "busy"})
    routes = {**_discovery(), ("POST", "/revoke"): answer}

    with pytest.raises(ConnectorError) as caught:
        _connector(routes).revoke("tok")

    assert caught.value.retry_after == 30.0 and caught.value.error_code == "busy"


def test_an_unsupported_token_type_is_an_error_with_the_idp_code():
    answer = httpx.Response(400, json={"error": "unsupported_token_type"})
    routes = {**_discovery(), ("POST", "/revoke"): answer}

    with pytest.raises(ConnectorError) as caught:
        _connector(routes).revoke("tok")

    assert caught.value.error_code == "unsupported_token_type"
    assert not caught.value.retryable


def test_an_as_without_a_revocation_endpoint_says_revoke_is_not_supported():
    connector = _connector(_discovery(revocation_endpoint=None))

    with pytest.raises(NotSupported) as caught:
        connector.revoke("tok")

    assert caught.value.capability == "revoke"
    assert "revocation_endpoint" in str(caught.value)
    checks = {check.capability: check for check in connector.verify()}
    assert not checks["revoke"].ok and "revocation_endpoint" in checks["revoke"].detail


def test_client_secret_basic_form_encodes_the_id_and_secret():
    routes = {**_discovery(), ("POST", "/revoke"): httpx.Response(200)}
    connector = _connector(routes, secret="a:b+c")

    connector.revoke("tok")

    header = connector.seen[-1].headers["authorization"]
    decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
    assert decoded == "console:a%3Ab%2Bc"  # RFC 6749 §2.3.1


def test_an_as_offering_only_client_secret_post_gets_the_secret_in_the_body():
    routes = {
        **_discovery(revocation_endpoint_auth_methods_supported=["client_secret_post"]),
        ("POST", "/revoke"): httpx.Response(200),
    }
    connector = _connector(routes)

    connector.revoke("tok")

    request = connector.seen[-1]
    form = dict(urllib.parse.parse_qsl(request.content.decode()))
    assert form == {"token": "tok", "client_id": "console", "client_secret": "s3cret"}
    assert "authorization" not in request.headers


def test_an_as_offering_no_secret_based_client_auth_is_refused_before_sending_the_token():
    routes = _discovery(token_endpoint_auth_methods_supported=["private_key_jwt"])
    connector = _connector(routes)

    with pytest.raises(ConnectorError) as caught:
        connector.introspect("tok")

    assert caught.value.error_code == "unsupported_client_auth"
    assert all(request.method == "GET" for request in connector.seen)


def test_an_introspection_answer_without_active_is_an_error():
    routes = {**_discovery(), ("POST", "/introspect"): httpx.Response(200, json={"sub": "x"})}

    with pytest.raises(ConnectorError) as caught:
        _connector(routes).introspect("tok")

    assert caught.value.error_code == "invalid_response"


def test_without_grants_url_listing_grants_is_not_supported_rather_than_empty():
    connector = _connector(_discovery())

    with pytest.raises(NotSupported) as caught:
        connector.list_grants()

    assert caught.value.capability == "list_grants" and "grants_url" in str(caught.value)
    assert connector.seen == []  # said without a call


def test_a_connector_never_shows_its_secret():
    connector = _connector({}, secret="hunter2-secret")

    assert "hunter2" not in repr(connector)


def test_an_unknown_kind_is_a_connector_error_listing_the_known_ones():
    with pytest.raises(ConnectorError) as caught:
        connector_for("okta-typo", {}, "s")

    assert "oauth" in str(caught.value) and caught.value.error_code == "unknown_kind"


def test_a_config_without_an_issuer_is_refused_up_front():
    with pytest.raises(ConnectorError) as caught:
        connector_for("oauth", {"client_id": "console"}, "s")

    assert "issuer" in str(caught.value)


def test_discovery_is_fetched_once_per_connector():
    routes = {**_discovery(), ("POST", "/revoke"): httpx.Response(200)}
    connector = _connector(routes)

    connector.revoke("a")
    connector.revoke("b")

    paths = [request.url.path for request in connector.seen]
    assert paths.count("/.well-known/openid-configuration") == 1


def test_a_connector_called_inside_a_transaction_refuses_before_any_request(db):
    # pytest-django's `db` runs this test inside transaction.atomic(), as a careless service would.
    connector = _connector(_discovery())

    with pytest.raises(ConnectorError) as caught:
        connector.introspect("tok")

    assert caught.value.error_code == "inside_transaction"
    assert connector.seen == []
