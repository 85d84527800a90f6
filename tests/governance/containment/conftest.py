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
