"""The entra kind with a certificate credential: the token request carries an RFC 7523 client
assertion that the scripted Entra peer (tests/peers/entra.py) verifies with the certificate's
public key, and a wrong key, thumbprint or stale assertion gets Entra's `invalid_client`."""

import base64
import hashlib
import json
import time

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from governance.connectors import ConnectorError
from governance.connectors.assertion import certificate_assertion
from governance.connectors.entra import JWT_BEARER, EntraConnector
from tests.peers.entra import CLIENT_ID, EntraPeer, make_certificate, thumbprint


@pytest.fixture
def graph():
    server = EntraPeer().start()
    yield server
    server.stop()


@pytest.fixture
def certificate(graph):
    """A key pair whose certificate is uploaded to the peer's app registration."""
    pem, cert = make_certificate()
    graph.certificates.append(cert)
    return pem, cert


def _connector(graph, certificate, **config) -> EntraConnector:
    pem, cert = certificate
    return EntraConnector(
        {**graph.config(), "certificate_thumbprint": thumbprint(cert), **config}, pem
    )


def _decode(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_certificate_credential_lists_grants_with_a_signed_client_assertion(graph, certificate):
    grants = {g.idp_id: g for g in _connector(graph, certificate).list_grants()}

    assert {"g-alice", "g-tenant", "a-svc"} <= grants.keys()
    token = next(r for r in graph.requests if r.path.endswith("/token"))
    assert token.form["client_assertion_type"] == JWT_BEARER
    assert "client_secret" not in token.form
    [(header, claims)] = graph.assertions  # the peer checked its signature with the cert's key
    digest = hashlib.sha1(certificate[1].public_bytes(serialization.Encoding.DER)).digest()
    assert header["alg"] == "RS256"
    assert base64.urlsafe_b64decode(header["x5t"] + "=") == digest
    assert claims["aud"] == f"{graph.url}/contoso-tenant/oauth2/v2.0/token"
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["exp"] - claims["nbf"] == 600 and claims["jti"]


def test_each_token_request_signs_a_new_assertion(graph, certificate):
    connector = _connector(graph, certificate)
    list(connector.list_clients())
    graph.tokens.clear()  # the token is revoked: the next call fetches another

    list(connector.list_identities())

    assert len(graph.assertions) == 2
    assert graph.assertions[0][1]["jti"] != graph.assertions[1][1]["jti"]


def test_an_assertion_signed_with_another_key_is_invalid_client(graph, certificate):
    other_pem, _ = make_certificate()
    connector = EntraConnector(
        {**graph.config(), "certificate_thumbprint": thumbprint(certificate[1])}, other_pem
    )

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_clients())

    assert (caught.value.status, caught.value.error_code) == (401, "invalid_client")
    assert "AADSTS700027" in str(caught.value) and not graph.assertions
    assert "PRIVATE KEY" not in str(caught.value) + repr(connector) + repr(connector.session)


def test_a_certificate_the_app_does_not_hold_is_invalid_client(graph, certificate):
    connector = _connector(graph, make_certificate())  # the right pair, never uploaded

    with pytest.raises(ConnectorError) as caught:
        list(connector.list_clients())

    assert (caught.value.status, caught.value.error_code) == (401, "invalid_client")
    assert "key was not found" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"now": time.time() - 3600}, "AADSTS700024"),  # expired
        ({"audience": "https://login.example/other/token"}, "AADSTS700016"),
        ({"client_id": "another-app"}, "AADSTS700021"),
    ],
)
def test_the_peer_refuses_a_stale_or_misaddressed_assertion(graph, certificate, change, code):
    pem, cert = certificate
    signed = certificate_assertion(
        **{
            "client_id": CLIENT_ID,
            "audience": f"{graph.url}{graph.token_path}",
            "pem": pem,
            "thumbprint": thumbprint(cert),
            **change,
        }
    )
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "scope": "https://graph.microsoft.com/.default",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": signed,
    }

    answer = httpx.post(f"{graph.url}{graph.token_path}", data=form)

    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert answer.json()["error_description"].startswith(code)


def test_a_replayed_assertion_is_refused(graph, certificate):
    pem, cert = certificate
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "scope": "https://graph.microsoft.com/.default",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": certificate_assertion(
            client_id=CLIENT_ID,
            audience=f"{graph.url}{graph.token_path}",
            pem=pem,
            thumbprint=thumbprint(cert),
        ),
    }

    first = httpx.post(f"{graph.url}{graph.token_path}", data=form)
    again = httpx.post(f"{graph.url}{graph.token_path}", data=form)

    assert first.status_code == 200 and again.status_code == 401


def test_a_private_key_without_its_thumbprint_is_a_configuration_error(graph, certificate):
    with pytest.raises(ConnectorError) as caught:
        EntraConnector(graph.config(), certificate[0])

    assert caught.value.call == "configure" and "certificate_thumbprint" in str(caught.value)


def test_a_key_entra_cannot_use_or_a_malformed_thumbprint_fails_before_any_call(graph):
    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem, cert = make_certificate()

    with pytest.raises(ConnectorError, match="RSA key"):
        EntraConnector({**graph.config(), "certificate_thumbprint": "ab" * 20}, p256.decode())
    with pytest.raises(ConnectorError, match="40 hex digits"):
        EntraConnector({**graph.config(), "certificate_thumbprint": "not-hex"}, pem)
    assert not graph.requests


def test_a_thumbprint_written_with_colons_and_lower_case_names_the_same_certificate(
    graph, certificate
):
    spaced = ":".join(thumbprint(certificate[1])[i : i + 2] for i in range(0, 40, 2)).lower()

    assert list(_connector(graph, certificate, certificate_thumbprint=spaced).list_clients())
