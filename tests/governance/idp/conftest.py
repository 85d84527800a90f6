"""Fixtures for the IdP tests: connections of each common shape, the oidc-provider peer (the
`oauth` kind's real authorization server) and a scripted grants server on 127.0.0.1, and quick
retries for syncs (the sync's backoff is seconds in production; tests wait tenths)."""

from __future__ import annotations

import pytest

from governance.access import secrets
from governance.idp import connections
from governance.idp.models import IdpConnection
from tests.fixtures.grants_server import GrantsServer, generated_grants
from tests.governance.connectors.peers import start_oauth_peer


@pytest.fixture(autouse=True)
def quick_sync_settings(settings):
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
    settings.IDP_SYNC_BACKOFF_SECONDS = 0.1
    settings.IDP_SYNC_MAX_WAIT_SECONDS = 10.0


@pytest.fixture
def grants_server():
    """A scripted grants_url on 127.0.0.1 with 25 grants over 5 users, pages of 10."""
    server = GrantsServer(generated_grants(25, 5, clients=3), page_size=10).start()
    yield server
    server.stop()


def oauth_connection(grants_url: str, *, name="local-as", issuer="https://as.example", **kw):
    """An `oauth` connection whose grants come from `grants_url` (secret stored encrypted)."""
    return IdpConnection.objects.create(
        name=name,
        kind="oauth",
        config={"issuer": issuer, "client_id": "console", "grants_url": grants_url},
        secret_encrypted=secrets.encrypt("console-secret"),
        **kw,
    )


OKTA_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-not-a-real-key\n"
    "-----END PRIVATE KEY-----"
)


@pytest.fixture
def okta_connection(admin_user):
    """An Okta connection added by an Admin, with a PEM key as its credential."""
    return connections.add_connection(
        actor=admin_user,
        kind="okta",
        name="Acme Okta",
        config={"domain": "acme.okta.com", "client_id": "0oa1"},
        secret=OKTA_KEY,
        issuers=["https://acme.okta.com/oauth2/default"],
    )


@pytest.fixture(scope="module")
def oauth_peer():
    """oidc-provider on 127.0.0.1 (skips with the reason when Node or its packages are missing)."""
    yield from start_oauth_peer()


@pytest.fixture
def loopback_allowed(settings):
    """The safe fetcher refuses loopback unless allow-listed: the peer lives there."""
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
