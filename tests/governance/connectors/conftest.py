"""Fixtures for the connector tests: each kind's peer, started once per module, and the fetch
allow-list that lets connectors reach it on 127.0.0.1."""

import pytest

from tests.governance.connectors.peers import PEERS


@pytest.fixture(scope="module", params=sorted(PEERS))
def peer(request):
    """A running peer for every registered kind (the contract suite runs once per kind)."""
    yield from PEERS[request.param]()


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    """The safe fetcher refuses loopback unless allow-listed: the peers live there."""
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
