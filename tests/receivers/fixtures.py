"""Pytest fixtures for the receivers; a test module or conftest imports the ones it uses:

    from tests.receivers.fixtures import hec_receiver, webhook_receiver  # noqa: F401

Module-scoped (starting a server per test is what makes suites slow): each test gets the
receiver up, cleared and answering normally (`clean`), whatever the previous test did to it.
"""

from __future__ import annotations

import pytest

from tests.receivers import (
    HecReceiver,
    SmtpReceiver,
    SyslogReceiver,
    WebhookReceiver,
    make_tls_material,
)

WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # base64 of 24 bytes
HEC_TOKEN = "7c3d6a3e-hec-test-token-5b1f"
__all__ = [
    "HEC_TOKEN",
    "WEBHOOK_SECRET",
    "_hec_server",
    "_smtp_server",
    "_syslog_tcp_server",
    "_syslog_tls_server",
    "_webhook_server",
    "hec_receiver",
    "smtp_receiver",
    "syslog_tcp_receiver",
    "syslog_tls_receiver",
    "tls_material",
    "webhook_receiver",
]


def clean(receiver):
    receiver.up()
    receiver.clear()
    if hasattr(receiver, "recover"):
        receiver.recover()
    return receiver


@pytest.fixture(scope="module")
def tls_material():
    return make_tls_material()


@pytest.fixture(scope="module")
def _webhook_server():
    with WebhookReceiver(WEBHOOK_SECRET) as receiver:
        yield receiver


@pytest.fixture
def webhook_receiver(_webhook_server):
    return clean(_webhook_server)


@pytest.fixture(scope="module")
def _hec_server():
    with HecReceiver(HEC_TOKEN) as receiver:
        yield receiver


@pytest.fixture
def hec_receiver(_hec_server):
    return clean(_hec_server)


@pytest.fixture(scope="module")
def _syslog_tcp_server():
    with SyslogReceiver() as receiver:
        yield receiver


@pytest.fixture
def syslog_tcp_receiver(_syslog_tcp_server):
    return clean(_syslog_tcp_server)


@pytest.fixture(scope="module")
def _syslog_tls_server(tls_material):
    with SyslogReceiver(tls=tls_material) as receiver:
        yield receiver


@pytest.fixture
def syslog_tls_receiver(_syslog_tls_server):
    return clean(_syslog_tls_server)


@pytest.fixture(scope="module")
def _smtp_server():
    with SmtpReceiver() as receiver:
        yield receiver


@pytest.fixture
def smtp_receiver(_smtp_server, settings):
    """The SMTP receiver, and the site's email settings pointing at it."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = _smtp_server.host
    settings.EMAIL_PORT = _smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return clean(_smtp_server)
