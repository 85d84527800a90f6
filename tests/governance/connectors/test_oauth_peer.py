"""The oauth kind against oidc-provider, beyond the shared contract: what only this kind does."""

import pytest

from governance.connectors import NotSupported, RevokeResult
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
