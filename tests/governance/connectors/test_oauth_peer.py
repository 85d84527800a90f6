"""The oauth kind against oidc-provider, beyond the shared contract: what only this kind does."""

import httpx
import pytest

from governance.connectors import ConnectorError, NotSupported, RevokeResult
from tests.governance.connectors.peers import start_oauth_peer


@pytest.fixture(scope="module")
def oauth_peer():
    yield from start_oauth_peer()


def test_revoking_a_users_refresh_token_ends_the_grant_it_came_from(oauth_peer):
    connector = oauth_peer.connector()
    refresh_token = oauth_peer.facts["refresh_token"]
    assert connector.introspect(refresh_token).subject == "alice"

    assert connector.revoke(refresh_token).outcome == RevokeResult.REVOKED

    assert not connector.introspect(refresh_token).active
    # oidc-provider's revokeGrantPolicy: the consent goes with its refresh token.
    assert oauth_peer.facts["grant_id"] not in {g.idp_id for g in connector.list_grants()}


def test_without_grants_url_the_peer_is_not_asked_for_grants(oauth_peer):
    connector = oauth_peer.connector(grants_url="")

    with pytest.raises(NotSupported):
        connector.list_grants()
    checks = {check.capability: check for check in connector.verify()}
    assert not checks["list_grants"].ok and "grants_url" in checks["list_grants"].detail
    assert checks["revoke"].ok and checks["introspect"].ok


# --- containment (issue 13) against a real authorization server ----------------------------------


def _grant(oauth_peer, subject: str, client: str = "agent") -> dict:
    """A new consent of `subject` to `client` with its refresh token (the peer's admin route)."""
    console = oauth_peer.facts["clients"]["console"]
    answer = httpx.post(
        f"{oauth_peer.config['issuer']}/admin/grants",
        json={"subject": subject, "client_id": client},
        auth=(console["client_id"], console["client_secret"]),
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()


def _token(oauth_peer, client: str, **form) -> httpx.Response:
    """A token request as the agent `client` itself would make it."""
    credentials = next(c for c in oauth_peer.facts["clients"].values() if c["client_id"] == client)
    return httpx.post(
        f"{oauth_peer.config['issuer']}/token",
        data=form,
        auth=(credentials["client_id"], credentials["client_secret"]),
        timeout=5,
    )


def test_a_revoked_refresh_token_is_inactive_and_refreshing_with_it_fails(oauth_peer):
    connector = oauth_peer.connector()
    refresh_token = _grant(oauth_peer, "dana")["refresh_token"]
    refresh = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    assert connector.introspect(refresh_token).active

    assert connector.revoke(refresh_token).outcome == RevokeResult.REVOKED

    assert connector.introspect(refresh_token).active is False
    answer = _token(oauth_peer, "agent", **refresh)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_revoking_what_a_user_granted_the_agent_ends_its_refresh_tokens(oauth_peer):
    connector = oauth_peer.connector()
    seeded = _grant(oauth_peer, "erin")
    (listed,) = connector.grants_for("erin", "agent")
    assert listed.idp_id == seeded["grant_id"]

    (result,) = connector.revoke_user_client("erin", "agent")

    assert (result.outcome, result.target) == (RevokeResult.REVOKED, seeded["grant_id"])
    assert connector.grants_for("erin", "agent") == []
    assert not connector.introspect(seeded["refresh_token"]).active
    refresh = {"grant_type": "refresh_token", "refresh_token": seeded["refresh_token"]}
    assert _token(oauth_peer, "agent", **refresh).json()["error"] == "invalid_grant"


def test_cutting_off_an_identity_revokes_its_grants_to_every_client(oauth_peer):
    connector = oauth_peer.connector()
    to_agent, to_tool = _grant(oauth_peer, "fay"), _grant(oauth_peer, "fay", "tool-agent")
    bystander = _grant(oauth_peer, "gus")

    results = connector.cut_off_identity("fay")

    assert {r.target for r in results} == {to_agent["grant_id"], to_tool["grant_id"]}
    assert not connector.introspect(to_tool["refresh_token"]).active
    assert connector.introspect(bystander["refresh_token"]).active


def test_the_kill_switch_refuses_client_credentials_until_the_client_is_reactivated(oauth_peer):
    connector = oauth_peer.connector()
    held = _grant(oauth_peer, "hal", "tool-agent")
    client_credentials = {"grant_type": "client_credentials"}
    assert _token(oauth_peer, "tool-agent", **client_credentials).status_code == 200

    connector.deactivate("tool-agent")
    (revoked,) = connector.revoke_client_grants("tool-agent")

    assert connector.client_active("tool-agent") is False
    refused = _token(oauth_peer, "tool-agent", **client_credentials)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert revoked.target == held["grant_id"]
    assert not connector.introspect(held["refresh_token"]).active
    assert _token(oauth_peer, "agent", **client_credentials).status_code == 200  # others go on

    connector.reactivate("tool-agent")

    assert connector.client_active("tool-agent") is True
    assert _token(oauth_peer, "tool-agent", **client_credentials).status_code == 200


def test_an_unknown_client_cannot_be_deactivated(oauth_peer):
    with pytest.raises(ConnectorError) as caught:
        oauth_peer.connector().deactivate("no-such-client")

    assert caught.value.status == 404 and caught.value.call == "deactivate"


def test_without_clients_url_the_kind_says_how_to_enable_deactivation(oauth_peer):
    connector = oauth_peer.connector(clients_url="")

    with pytest.raises(NotSupported) as caught:
        connector.deactivate("tool-agent")

    assert "clients_url" in str(caught.value)
    checks = {check.capability: check for check in connector.verify()}
    assert not checks["deactivate"].ok and "clients_url" in checks["deactivate"].detail
