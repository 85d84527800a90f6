"""Fixtures for the IdP connection tests: a connection of each common shape and the oidc-provider
peer (the `oauth` kind's real authorization server) on 127.0.0.1."""

import pytest

from governance.idp import connections
from tests.governance.connectors.peers import start_oauth_peer

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
