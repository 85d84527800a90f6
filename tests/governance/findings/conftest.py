"""Findings on real inventory rows, raised the way the rules raise them (raise_flag)."""

import pytest

from inventory.services.flags import raise_flag
from tests import ui_factories as make


@pytest.fixture
def blocked_client(db):
    return make.client("https://blocked.example/client.json", name="Blocked agent")


@pytest.fixture
def raise_finding(blocked_client):
    """raise_finding(kind=..., severity=..., **options) -> an open Finding on a client."""

    def raise_one(kind="client.blocked_with_grants", severity="high", obj=None, **options):
        return raise_flag(
            kind=kind,
            obj=obj or blocked_client,
            summary=options.pop("summary", f"{kind} on {obj or blocked_client}"),
            severity=severity,
            **options,
        )

    return raise_one
