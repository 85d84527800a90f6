"""The contract every connector kind keeps, run against each kind's real peer (peers.PEERS).

Nothing here names a kind: a new kind passes these by adding its peer, not by editing tests.
Checks that need a capability (revoking token values, introspection, listing grants) skip for
a kind without it, by what the peer and the connector declare.
"""

import socket
import time

import pytest

from governance.connectors import (
    ConnectorError,
    IdpGrant,
    NotSupported,
    RevokeResult,
    connector_for,
)
from governance.connectors.base import (
    ALL_CAPABILITIES,
    CONTAINMENT_CAPABILITIES,
    CUT_OFF_IDENTITY,
    DEACTIVATE,
    INTROSPECT,
    LIST_CLIENTS,
    LIST_GRANTS,
    LIST_IDENTITIES,
    REVOKE,
    REVOKE_CLIENT_GRANTS,
    REVOKE_USER_CLIENT,
    VERIFY,
)
from tests.fetch_server import closed_port


def _call(connector, capability):
    """Use one capability with a harmless argument."""
    method = getattr(connector, capability)
    return list(method()) if capability.startswith("list_") else method("no-such-client")


def _needs(connector, capability):
    """Skip a check that only applies to kinds with `capability`."""
    if not connector.supports(capability):
        pytest.skip(f"the {connector.kind} kind cannot {capability.replace('_', ' ')}")


def _reaching_call(connector) -> str:
    """A capability whose use reaches the IdP whatever the kind: revoking a token value where
    the kind handles tokens, else its first listing."""
    if connector.supports(INTROSPECT):
        return REVOKE
    listing = (LIST_GRANTS, LIST_IDENTITIES, LIST_CLIENTS)
    return next(c for c in listing if connector.supports(c))


def _use(connector, capability, token="any-token"):
    return connector.revoke(token) if capability == REVOKE else _call(connector, capability)


def test_verify_reports_every_capability_and_the_supported_ones_work(peer):
    connector = peer.connector()

    checks = {check.capability: check for check in connector.verify()}

    assert set(ALL_CAPABILITIES) <= set(checks)
    for capability in ALL_CAPABILITIES:
        assert checks[capability].ok == connector.supports(capability), checks[capability]
        assert checks[capability].detail
    # Containment lines only for what the kind declares: never a row of "not supported" for
    # calls a read-only kind never claimed.
    for capability in CONTAINMENT_CAPABILITIES:
        assert (capability in checks) == connector.supports(capability)
        if capability in checks:
            assert checks[capability].ok and checks[capability].detail, checks[capability]


def test_a_live_token_introspects_active_and_inactive_once_revoked(peer):
    connector = peer.connector()
    _needs(connector, INTROSPECT)
    token = peer.mint_token()
    assert connector.introspect(token).active

    result = connector.revoke(token)

    assert result.outcome == RevokeResult.REVOKED
    assert token not in result.target  # a result is logged: never the whole token
    assert not connector.introspect(token).active


def test_revoking_a_token_twice_succeeds_both_times(peer):
    connector = peer.connector()
    _needs(connector, INTROSPECT)
    token = peer.mint_token()

    first, second = connector.revoke(token), connector.revoke(token)

    assert first.outcome == second.outcome == RevokeResult.REVOKED


def test_revoking_a_token_the_idp_never_issued_succeeds(peer):
    _needs(peer.connector(), INTROSPECT)
    assert peer.connector().revoke("never-issued-by-anyone").outcome == RevokeResult.REVOKED


def test_a_wrong_client_secret_is_a_connector_error_naming_the_call_and_status(peer):
    capability = _reaching_call(peer.connector())
    token = peer.mint_token() if capability == REVOKE else "any-token"
    wrong = peer.facts.get("wrong_secret", "not-the-secret")
    connector = connector_for(peer.kind, peer.config, wrong)

    with pytest.raises(ConnectorError) as caught:
        _use(connector, capability, token)

    # 401 where the IdP says so; Google answers a bad assertion 400 invalid_grant.
    status = peer.facts.get("wrong_secret_status", 401)
    assert caught.value.call == capability
    assert caught.value.status == status and not caught.value.retryable
    assert f"{capability} failed" in str(caught.value) and f"HTTP {status}" in str(caught.value)
    if capability == REVOKE:
        assert peer.connector().introspect(token).active  # nothing was revoked
    checks = {check.capability: check for check in connector.verify()}
    assert not checks[capability].ok and str(status) in checks[capability].detail


def test_a_peer_that_is_down_is_a_connector_error_not_a_hang(peer):
    connector = peer.connector_at(f"http://127.0.0.1:{closed_port()}", 2.0)

    with pytest.raises(ConnectorError) as caught:
        _use(connector, _reaching_call(connector))

    assert caught.value.status is None and caught.value.retryable
    assert caught.value.endpoint.startswith("http://127.0.0.1:")


def test_a_peer_that_never_answers_gives_up_at_the_configured_timeout(peer):
    # Connections complete in the listen backlog, but nobody ever reads or answers.
    with socket.create_server(("127.0.0.1", 0), backlog=8) as silent:
        connector = peer.connector_at(f"http://127.0.0.1:{silent.getsockname()[1]}", 1.0)
        started = time.monotonic()

        with pytest.raises(ConnectorError) as caught:
            _use(connector, _reaching_call(connector))

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
    # A grant is known by its IdP id, subject and client ("" as id where the IdP keys grants
    # by user and client alone).
    key = (peer.facts["grant_id"], peer.facts["subject"], peer.facts["client_id"])
    grants = {(g.idp_id, g.subject, g.client_id): g for g in connector.list_grants()}
    seeded = grants[key]

    assert isinstance(seeded, IdpGrant)
    assert seeded.scopes
    assert (seeded.created is not None) == peer.facts.get("created_exposed", True)
    assert connector.revoke(seeded).outcome == RevokeResult.REVOKED
    assert connector.revoke(seeded).outcome == RevokeResult.ALREADY_ABSENT
    remaining = list(connector.list_grants())
    assert key not in {(g.idp_id, g.subject, g.client_id) for g in remaining}
    if peer.facts["grant_id"]:
        assert peer.facts["grant_id"] not in {g.idp_id for g in remaining}


def test_without_the_allow_list_the_connector_refuses_to_reach_loopback(peer, settings):
    settings.FETCH_ALLOWLIST = []  # production: an IdP on a special-use address is refused

    with pytest.raises(ConnectorError) as caught:
        _use(peer.connector(), _reaching_call(peer.connector()))

    assert caught.value.error_code in ("not_allowed_scheme", "blocked_address")
    assert not caught.value.retryable


# --- containment (issue 13): every call idempotent, and what the IdP still lists is the proof ---


def _user_client(peer):
    """A subject and client with a fresh grant at a stateful peer, else the seeded ones."""
    if peer.seed_grant is not None:
        return peer.seed_grant()
    return peer.facts["subject"], peer.facts["client_id"]


def _succeeded(results):
    """A containment call's results: a list of RevokeResults, each a success."""
    assert isinstance(results, list) and results
    outcomes = {r.outcome for r in results}
    assert outcomes <= {RevokeResult.REVOKED, RevokeResult.ALREADY_ABSENT}, results
    return outcomes


def test_revoking_what_a_user_granted_a_client_leaves_nothing_listed_and_runs_twice(peer):
    connector = peer.connector()
    _needs(connector, REVOKE_USER_CLIENT)
    subject, client_id = _user_client(peer)
    if peer.seed_grant is not None:
        assert connector.grants_for(subject, client_id)  # the seeded grant is listed

    first = connector.revoke_user_client(subject, client_id)
    second = connector.revoke_user_client(subject, client_id)

    assert RevokeResult.REVOKED in _succeeded(first)
    _succeeded(second)
    assert peer.secret not in repr(first + second)  # results are recorded: never a secret
    if peer.seed_grant is not None:  # a stateless peer cannot show what is left
        assert connector.grants_for(subject, client_id) == []
        assert _succeeded(second) == {RevokeResult.ALREADY_ABSENT}


def test_cutting_off_an_identity_runs_twice(peer):
    # What stays listed after differs by IdP (Entra keeps delegated grants, revoking only the
    # sessions and refresh tokens): each kind's own tests say what it ends.
    connector = peer.connector()
    _needs(connector, CUT_OFF_IDENTITY)
    subject, _ = _user_client(peer)

    _succeeded(connector.cut_off_identity(subject))
    _succeeded(connector.cut_off_identity(subject))


def test_revoking_a_clients_own_grants_runs_twice(peer):
    connector = peer.connector()
    _needs(connector, REVOKE_CLIENT_GRANTS)

    _succeeded(connector.revoke_client_grants(peer.kill_client))
    _succeeded(connector.revoke_client_grants(peer.kill_client))


def test_a_deactivated_client_reads_inactive_and_active_again_once_reactivated(peer):
    connector = peer.connector()
    _needs(connector, DEACTIVATE)
    client_id = peer.kill_client

    connector.deactivate(client_id)
    connector.deactivate(client_id)  # twice: still success
    inactive = connector.client_active(client_id)
    connector.reactivate(client_id)
    connector.reactivate(client_id)
    active = connector.client_active(client_id)

    if peer.seed_grant is not None:  # Prism answers its spec's example whatever happened
        assert (inactive, active) == (False, True)
    else:
        assert isinstance(inactive, bool) and isinstance(active, bool)


def test_containment_a_kind_does_not_declare_says_why(peer):
    connector = peer.connector()
    calls = {
        REVOKE_USER_CLIENT: lambda: connector.revoke_user_client("someone", "some-client"),
        CUT_OFF_IDENTITY: lambda: connector.cut_off_identity("someone"),
        REVOKE_CLIENT_GRANTS: lambda: connector.revoke_client_grants("some-client"),
        DEACTIVATE: lambda: connector.client_active("some-client"),
    }
    for capability, call in calls.items():
        if connector.supports(capability):
            continue
        with pytest.raises(NotSupported) as caught:
            call()
        assert caught.value.capability == capability and caught.value.message
