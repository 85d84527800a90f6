"""The real receivers (tests/receivers) for every alerts test, and unsaved destinations."""

import pytest

from governance.access.secrets import encrypt
from governance.alerts.models import Destination
from tests.receivers.fixtures import *  # noqa: F403 - the receivers' fixtures
from tests.receivers.fixtures import HEC_TOKEN, WEBHOOK_SECRET


def destination(kind: str, *, secret: str = "", **fields) -> Destination:
    """A Destination as the transports see it (not saved: they read only its fields)."""
    if secret:
        fields["secret_encrypted"] = encrypt(secret)
    return Destination(name=f"test {kind}", kind=kind, **fields)


@pytest.fixture
def webhook_to(webhook_receiver):
    return destination("webhook", url=webhook_receiver.url + "/hooks/mcp", secret=WEBHOOK_SECRET)


@pytest.fixture
def hec_to(hec_receiver):
    return destination("splunk_hec", url=hec_receiver.url, secret=HEC_TOKEN)
