"""The contract every connector kind keeps, run against each kind's real peer (peers.PEERS).

Nothing here names a kind: a new kind passes these by adding its peer, not by editing tests.
"""

import socket
import time

import pytest

from governance.connectors import ConnectorError, IdpGrant, NotSupported, RevokeResult
from governance.connectors.base import ALL_CAPABILITIES, DEACTIVATE, LIST_GRANTS, VERIFY
from tests.fetch_server import closed_port


def _call(connector, capability):
    """Use one capability with a harmless argument."""
    method = getattr(connector, capability)
    return list(method()) if capability.startswith("list_") else method("no-such-client")


def _mint(peer):
    """A live token from the peer; a kind that revokes listed grants only skips the test."""
    if peer.mint_token is None:
        pytest.skip(f"the {peer.kind} kind revokes listed grants, not token values")
    return peer.mint_token()


def test_verify_reports_every_capability_and_the_supported_ones_work(peer):
    connector = peer.connector()

    checks = {check.capability: check for check in connector.verify()}

    assert set(ALL_CAPABILITIES) <= set(checks)
    for capability in ALL_CAPABILITIES:
        assert checks[capability].ok == connector.supports(capability), checks[capability]
        assert checks[capability].detail


def test_a_live_token_introspects_active_and_inactive_once_revoked(peer):
    connector = peer.connector()
    token = _mint(peer)
    assert connector.introspect(token).active

    result = connector.revoke(token)

    assert result.outcome == RevokeResult.REVOKED
    assert token not in result.target  # a result is logged: never the whole token
    assert not connector.introspect(token).active


def test_revoking_a_token_twice_succeeds_both_times(peer):
    connector = peer.connector()
    token = _mint(peer)

    first, second = connector.revoke(token), connector.revoke(token)

    assert first.outcome == second.outcome == RevokeResult.REVOKED


def test_revoking_a_token_the_idp_never_issued_succeeds(peer):
    if peer.mint_token is None:
        pytest.skip(f"the {peer.kind} kind revokes listed grants, not token values")
    assert peer.connector().revoke("never-issued-by-anyone").outcome == RevokeResult.REVOKED


def test_a_wrong_client_secret_is_a_connector_error_naming_the_call_and_status(peer):
    token = peer.mint_token() if peer.mint_token else None
    connector = peer.connector()
    connector.secret = peer.wrong_secret

    with pytest.raises(ConnectorError) as caught:
        connector.revoke(token) if token else peer.probe(connector)

    assert caught.value.call == peer.probe_call
    assert caught.value.status == 401 and not caught.value.retryable
    assert f"{peer.probe_call} failed" in str(caught.value) and "HTTP 401" in str(caught.value)
    if token:
        assert peer.connector().introspect(token).active  # nothing was revoked
    checks = {check.capability: check for check in connector.verify()}
    assert not checks[peer.probe_call].ok and "401" in checks[peer.probe_call].detail


def test_a_peer_that_is_down_is_a_connector_error_not_a_hang(peer):
    connector = peer.connector_at(f"http://127.0.0.1:{closed_port()}", 2.0)

    with pytest.raises(ConnectorError) as caught:
        peer.probe(connector)

    assert caught.value.status is None and caught.value.retryable
    assert caught.value.endpoint.startswith("http://127.0.0.1:")


def test_a_peer_that_never_answers_gives_up_at_the_configured_timeout(peer):
    # Connections complete in the listen backlog, but nobody ever reads or answers.
    with socket.create_server(("127.0.0.1", 0), backlog=8) as silent:
        connector = peer.connector_at(f"http://127.0.0.1:{silent.getsockname()[1]}", 1.0)
        started = time.monotonic()

        with pytest.raises(ConnectorError) as caught:
            peer.probe(connector)

    assert time.monotonic() - started < 5
    assert caught.value.error_code == "timeout"


def test_an_unsupported_capability_raises_not_supported_naming_it(peer):
    connector = peer.connector()
    assert not connector.supports(peer.unsupported)

    with pytest.raises(NotSupported) as caught:
        _call(connector, peer.unsupported)

    assert caught.value.capability == peer.unsupported
    assert peer.unsupported.replace("_", " ") in str(caught.value)


def test_every_capability_either_works_or_says_it_is_not_supported(peer):
    connector = peer.connector()
    for capability in set(ALL_CAPABILITIES) - {VERIFY, DEACTIVATE, "revoke", "introspect"}:
        if connector.supports(capability):
            assert isinstance(_call(connector, capability), list)
        else:
            with pytest.raises(NotSupported):
                _call(connector, capability)


def test_listed_grants_are_normalised_and_revoked_idempotently(peer):
    connector = peer.connector()
    if not connector.supports(LIST_GRANTS):
        pytest.skip(f"the {peer.kind} kind does not list grants")

    if "grant_id" not in peer.facts:
        pytest.skip(f"the {peer.kind} peer is stateless: its own tests revoke twice")
    grants = {grant.idp_id: grant for grant in connector.list_grants()}
    seeded = grants[peer.facts["grant_id"]]

    assert isinstance(seeded, IdpGrant)
    assert (seeded.subject, seeded.client_id) == (peer.facts["subject"], peer.facts["client_id"])
    assert seeded.scopes and seeded.created is not None
    assert connector.revoke(seeded).outcome == RevokeResult.REVOKED
    assert connector.revoke(seeded).outcome == RevokeResult.ALREADY_ABSENT
    assert peer.facts["grant_id"] not in {grant.idp_id for grant in connector.list_grants()}


def test_without_the_allow_list_the_connector_refuses_to_reach_loopback(peer, settings):
    settings.FETCH_ALLOWLIST = []  # production: an IdP on a special-use address is refused

    with pytest.raises(ConnectorError) as caught:
        peer.probe(peer.connector())

    assert caught.value.error_code in ("not_allowed_scheme", "blocked_address")
    assert not caught.value.retryable
