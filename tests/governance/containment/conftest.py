"""Fixtures for the containment tests: an `oauth` connection linked to its issuer, and an
inventory of one identity, one client and their grants at that issuer."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from governance.access import secrets
from governance.idp.models import IdpConnection, IdpIssuer
from inventory.models import Client, Grant, Identity
from tests import ui_factories as f

AS_ISSUER = "https://as.example"


@pytest.fixture(autouse=True)
def quick_containment_settings(settings):
    """Loopback allowed (the peers live there); retries wait tenths, not seconds."""
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
    settings.CONTAINMENT_RETRY_BASE_SECONDS = 0.1
    settings.CONTAINMENT_RATE_PER_SECOND = 100


def oauth_connection(issuer: str = AS_ISSUER, *, name="local-as", grants_url="", **config):
    """An `oauth` connection answering for `issuer` (its grants route at `grants_url`)."""
    connection = IdpConnection.objects.create(
        name=name,
        kind="oauth",
        config={
            "issuer": issuer,
            "client_id": "console",
            "grants_url": grants_url or f"{issuer}/admin/grants",
            **config,
        },
        secret_encrypted=secrets.encrypt("console-secret"),
    )
    IdpIssuer.objects.create(connection=connection, issuer=issuer)
    return connection


@dataclass
class Rows:
    alice: Identity
    agent: Client
    grants: list[Grant]


def inventory(issuer: str, grant_ids: list[str], *, subject="alice", client_id="agent") -> Rows:
    """alice (at `issuer`) and the client `agent`, with an active grant per id."""
    alice = f.identity(subject, issuer=issuer, display_name="Alice")
    agent = f.client(client_id, name="Agent", issuer=issuer)
    grants = [
        f.grant(gid, client=agent, subject=alice, issuer=issuer, status="active")
        for gid in grant_ids
    ]
    return Rows(alice, agent, grants)


@pytest.fixture
def deactivating_oauth(monkeypatch):
    """The `oauth` connector with deactivation through the scripted peer's client admin route
    (`/admin/clients/<id>`): a stand-in for the kinds that deactivate apps (Okta, Entra...)."""
    import httpx

    from governance.connectors.base import DEACTIVATE
    from governance.connectors.oauth import OAuthConnector

    def admin(connector, client_id, verb=""):
        url = f"{connector.issuer}/admin/clients/{client_id}" + (f"/{verb}" if verb else "")
        answer = httpx.request("POST" if verb else "GET", url, timeout=5)
        answer.raise_for_status()
        return answer.json()["active"]

    monkeypatch.setattr(
        OAuthConnector, "supports", lambda self, cap: cap in self.capabilities | {DEACTIVATE}
    )
    monkeypatch.setattr(OAuthConnector, "deactivate", lambda self, c: admin(self, c, "deactivate"))
    monkeypatch.setattr(OAuthConnector, "reactivate", lambda self, c: admin(self, c, "activate"))
    monkeypatch.setattr(OAuthConnector, "client_active", lambda self, c: admin(self, c))
