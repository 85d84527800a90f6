"""The fetcher over real TLS on 127.0.0.1: a server whose certificate a private CA (made by the
test) signed is refused until FETCH_EXTRA_CA_CERTS names that CA, and the certificate's name is
still checked once it does."""

import datetime
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from inventory.fetch import FetchError, safe_fetch
from tests.fetch_server import LocalServer, Route

DOCUMENT = {"issuer": "https://idp.corp.example"}


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool, san=None):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def company_ca(tmp_path):
    """A private CA, written to cas/ca.pem, and a function making a server signed by it."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate(
        _name("Test Company Root CA"),
        _name("Test Company Root CA"),
        ca_key.public_key(),
        ca_key,
        ca=True,
    )
    (tmp_path / "cas").mkdir()
    (tmp_path / "cas" / "ca.pem").write_bytes(_pem(ca_cert))
    servers = []

    def https_server(san) -> LocalServer:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _certificate(
            _name("leaf"), ca_cert.subject, key.public_key(), ca_key, ca=False, san=san
        )
        (tmp_path / "leaf.pem").write_bytes(
            _pem(leaf)
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "leaf.pem")
        server = LocalServer(ssl_context=context).start()
        server.routes["/.well-known/openid-configuration"] = Route(body=DOCUMENT)
        servers.append(server)
        return server

    yield tmp_path / "cas", https_server
    for server in servers:
        server.stop()


@pytest.fixture
def allow_local(settings):
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]  # a private address; TLS is verified regardless
    return settings


LOCALHOST_IP = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


@pytest.mark.django_db
def test_a_server_signed_by_a_company_ca_is_refused_without_the_setting_and_fetched_with_it(
    company_ca, allow_local
):
    ca_dir, https_server = company_ca
    server = https_server(LOCALHOST_IP)
    url = server.url("/.well-known/openid-configuration")
    assert url.startswith("https://127.0.0.1:")

    with pytest.raises(FetchError) as refused:
        safe_fetch(url, purpose="test")
    assert refused.value.reason == "connect_error"
    assert "CERTIFICATE_VERIFY_FAILED" in refused.value.message

    allow_local.FETCH_EXTRA_CA_CERTS = str(ca_dir / "ca.pem")
    assert safe_fetch(url, purpose="test").json() == DOCUMENT
    allow_local.FETCH_EXTRA_CA_CERTS = str(ca_dir)  # a directory of PEM files works as well
    assert safe_fetch(url, purpose="test").json() == DOCUMENT


@pytest.mark.django_db
def test_the_extra_ca_does_not_turn_off_the_check_of_the_name_in_the_certificate(
    company_ca, allow_local
):
    ca_dir, https_server = company_ca
    server = https_server([x509.DNSName("idp.corp.example")])  # signed, but not for 127.0.0.1
    allow_local.FETCH_EXTRA_CA_CERTS = str(ca_dir / "ca.pem")

    with pytest.raises(FetchError) as refused:
        safe_fetch(server.url("/.well-known/openid-configuration"), purpose="test")
    assert refused.value.reason == "connect_error"
    assert "IP address mismatch" in refused.value.message


@pytest.mark.django_db
def test_an_unreadable_extra_ca_setting_is_a_clear_fetch_error_naming_the_setting(
    company_ca, allow_local
):
    ca_dir, https_server = company_ca
    server = https_server(LOCALHOST_IP)
    allow_local.FETCH_EXTRA_CA_CERTS = str(ca_dir / "missing.pem")

    with pytest.raises(FetchError) as refused:
        safe_fetch(server.url("/.well-known/openid-configuration"), purpose="test")
    assert refused.value.reason == "internal_error"
    assert "FETCH_EXTRA_CA_CERTS" in refused.value.message
