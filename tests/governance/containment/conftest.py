"""Fixtures for the containment tests: an `oauth` connection linked to its issuer, and an
inventory of one identity, one client and their grants at that issuer; for the oidc-provider
peer, its connection, grants made there and in the inventory, and its agents' token requests."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
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
    """An `oauth` connection answering for `issuer` (its grants route at `grants_url`; pass
    `clients_url` for the client route deactivation goes through)."""
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


# --- oidc-provider (tests/peers/oidc, started by tests.governance.connectors.peers) -----------


def oidc_connection(peer):
    """An `oauth` connection to the oidc-provider peer with both admin routes."""
    return oauth_connection(
        peer.config["issuer"],
        grants_url=peer.config["grants_url"],
        clients_url=peer.config["clients_url"],
    )


def oidc_grant(peer, subject: str, client_id: str) -> dict:
    """A user's grant and refresh token to `client_id`, made at the peer as a consent would be:
    {"grant_id", "subject", "client_id", "refresh_token"}."""
    console = peer.facts["clients"]["console"]
    answer = httpx.post(
        f"{peer.config['issuer']}/admin/grants",
        json={"subject": subject, "client_id": client_id},
        auth=(console["client_id"], console["client_secret"]),
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()


def oidc_inventory(peer, client_id: str, subjects: list[str]) -> tuple[Client, list[Grant]]:
    """The client and one grant per subject, made at the peer and in the inventory alike."""
    issuer = peer.config["issuer"]
    client = f.client(client_id, name=client_id, issuer=issuer)
    grants = []
    for subject in subjects:
        made = oidc_grant(peer, subject, client_id)
        identity = f.identity(subject, issuer=issuer)
        grants.append(
            f.grant(
                made["grant_id"],
                client=client,
                subject=identity,
                issuer=issuer,
                status="active",
                has_refresh_token=True,
            )
        )
    return client, grants


def client_credentials(peer, client_key: str) -> httpx.Response:
    """A client_credentials token request by one of the peer's agents ("agent", "tool_agent")."""
    agent = peer.facts["clients"][client_key]
    return httpx.post(
        f"{peer.config['issuer']}/token",
        data={"grant_type": "client_credentials"},
        auth=(agent["client_id"], agent["client_secret"]),
        timeout=5,
    )
