"""Fixtures for IdP sync tests: a connection to a grants server, loopback allowed, quick
retries (the sync's backoff is seconds in production; tests wait tenths)."""

from __future__ import annotations

import pytest

from governance.access import secrets
from governance.idp.models import IdpConnection
from tests.fixtures.grants_server import GrantsServer, generated_grants


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
