"""Real receivers on 127.0.0.1 for the alert transports' tests (issue 14 §6): syslog over TCP and
TLS, a Splunk HEC look-alike, a Standard Webhooks receiver and an SMTP server.

Every receiver is a context manager (and has a fixture in tests/receivers/fixtures.py):

    with WebhookReceiver(secret) as hook:          # listening on hook.url
        deliver(destination, message)
        [request] = hook.wait_for(1)               # what arrived, already checked
        hook.down()                                # connections refused, same port kept
        hook.up()                                  # listening again on the same port
        hook.fail_with(503, retry_after=1)         # answer every request so until .recover()

`received` is a snapshot of what was accepted; `wait_for(n, timeout)` blocks until n items
arrived and returns them (AssertionError naming what did arrive after the timeout). `rejected`
holds the requests refused for a bad signature, token or envelope, with the reason.
"""

from tests.receivers.cef import parse_cef
from tests.receivers.hec import HecReceiver
from tests.receivers.smtp import SmtpReceiver
from tests.receivers.syslog import SyslogReceiver, parse_syslog
from tests.receivers.tls import TlsMaterial, make_tls_material
from tests.receivers.webhook import WebhookReceiver

__all__ = [
    "HecReceiver",
    "SmtpReceiver",
    "SyslogReceiver",
    "TlsMaterial",
    "WebhookReceiver",
    "make_tls_material",
    "parse_cef",
    "parse_syslog",
]
