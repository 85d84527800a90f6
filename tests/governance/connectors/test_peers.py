"""The peer harness itself: a machine without the peer's packages skips, it does not fail."""

import pytest

from tests.governance.connectors.peers import node_peer


def test_a_peer_whose_npm_packages_are_missing_skips_with_the_reason(tmp_path):
    with pytest.raises(pytest.skip.Exception) as caught:
        with node_peer(tmp_path, "peer.mjs"):
            pass  # pragma: no cover - never reached

    assert "npm" in str(caught.value)
