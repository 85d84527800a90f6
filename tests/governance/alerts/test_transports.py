"""Each wire against its real receiver on 127.0.0.1 (issue 14 §4, §6): the webhook's signature
checked by the standardwebhooks library, HEC's token and envelope, syslog over TCP and TLS
parsed frame by frame, the email as the SMTP server got it; and what a failure means."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from governance.alerts import formats
from governance.alerts.transports import (
    DeliveryFailed,
    OutgoingMessage,
    deliver,
    forward_events,
    message_id,
)
from tests.governance.alerts.conftest import HEC_TOKEN, WEBHOOK_SECRET, destination
from tests.receivers import HecReceiver, SyslogReceiver, make_tls_material

FINDINGS = [
    {
        "id": 41,
        "kind": "grant.unused_scope",
        "severity": "high",
        "status": "open",
        "summary": "Grant has write|admin scope = never used\nfor 30 days",
        "object_type": "inventory.grant",
        "object_id": "g-7",
        "object_repr": "build-bot \\ repo:write",
        "times_raised": 3,
        "raised_at": "2026-12-01T10:00:00+00:00",
        "last_raised_at": "2026-12-05T10:00:00.250000+00:00",
        "url": "http://console.test/findings/41/",
    },
    {
        "id": 42,
        "kind": "identity.disabled_with_grants",
        "severity": "critical",
        "status": "open",
        "summary": "Disabled identity still holds 2 grants",
        "object_type": "inventory.identity",
        "object_id": "7",
        "object_repr": "zoë@example.com",
        "times_raised": 1,
        "raised_at": "2026-12-05T11:00:00+00:00",
        "last_raised_at": "2026-12-05T11:00:00+00:00",
        "url": "http://console.test/findings/42/",
    },
]
EVENTS = [
    {
        "time": datetime(2026, 12, 5, 12, 0, 0, 123000, tzinfo=UTC),
        "received_at": datetime(2026, 12, 5, 12, 0, 1, tzinfo=UTC),
        "source_id": 3,
        "batch_id": 9,
        "event_id": f"evt-{n}",
        "type": "mcp.request",
        "actor_issuer": "https://idp.example",
        "actor_subject": "alice",
        "client_ref": "build-bot",
        "server_name": "github",
        "method": "tools/call",
        "tool": "create_issue",
        "task_id": "",
        "session_id": "s-1",
        "outcome": "success" if n % 2 else "error",
        "duration_ms": 12.5,
        "redacted": False,
        "payload": {"n": n},
    }
    for n in range(3)
]


def findings_message(key="dlv-findings-1") -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        event_type="findings.opened",
        subject="2 findings: critical",
        severity="critical",
        body=formats.findings_body("findings.opened", FINDINGS, labels={"kind": "x"}, count=5),
        timestamp=time.time(),
    )


# --- webhook ---------------------------------------------------------------------------------


def test_webhook_is_signed_so_the_reference_library_verifies_it(webhook_receiver, webhook_to):
    deliver(webhook_to, findings_message())
    [request] = webhook_receiver.wait_for(1)
    assert request.webhook_id == "dlv-findings-1"
    assert request.path == "/hooks/mcp"
    assert request.payload["type"] == "findings.opened"
    assert request.payload["data"]["count"] == 5
    assert [f["id"] for f in request.payload["data"]["findings"]] == [41, 42]
    assert abs(request.timestamp - time.time()) < 300  # the attempt's time: within tolerance
    assert not webhook_receiver.rejected.snapshot()


def test_webhook_resend_keeps_the_webhook_id(webhook_receiver, webhook_to):
    deliver(webhook_to, findings_message("dlv-same"))
    deliver(webhook_to, findings_message("dlv-same"))
    assert webhook_receiver.wait_for(2) and webhook_receiver.webhook_ids == ["dlv-same"] * 2


def test_webhook_signed_with_another_secret_is_rejected_by_the_receiver_and_not_retried(
    webhook_receiver,
):
    wrong = destination(
        "webhook", url=webhook_receiver.url, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    )
    with pytest.raises(DeliveryFailed) as failure:
        deliver(wrong, findings_message())
    assert failure.value.retryable is False
    assert "401" in failure.value.detail
    assert "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" not in failure.value.detail
    assert webhook_receiver.rejected.snapshot()


def test_receiver_down_is_retryable_and_back_up_takes_the_message(webhook_receiver, webhook_to):
    webhook_receiver.down()
    with pytest.raises(DeliveryFailed) as failure:
        deliver(webhook_to, findings_message())
    assert failure.value.retryable is True
    webhook_receiver.up()
    deliver(webhook_to, findings_message())
    assert len(webhook_receiver.wait_for(1)) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_busy_or_broken_receiver_is_retryable_with_its_retry_after(
    webhook_receiver, webhook_to, status
):
    webhook_receiver.fail_with(status, retry_after=7)
    with pytest.raises(DeliveryFailed) as failure:
        deliver(webhook_to, findings_message())
    assert (failure.value.retryable, failure.value.retry_after) == (True, 7.0)
    assert str(status) in failure.value.detail


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 301])
def test_refusals_and_redirects_are_not_retried(webhook_receiver, webhook_to, status):
    webhook_receiver.fail_with(status)
    with pytest.raises(DeliveryFailed) as failure:
        deliver(webhook_to, findings_message())
    assert failure.value.retryable is False
    assert str(status) in failure.value.detail


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.10.1/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:169.254.169.254]/hook",
    ],
)
def test_link_local_and_metadata_addresses_are_refused(url):
    hook = destination("webhook", url=url, secret=WEBHOOK_SECRET)
    with pytest.raises(DeliveryFailed) as failure:
        deliver(hook, findings_message())
    assert failure.value.retryable is False


def test_plain_http_is_refused_except_to_loopback():
    hook = destination("webhook", url="http://10.1.2.3/hook", secret=WEBHOOK_SECRET)
    with pytest.raises(DeliveryFailed, match="https") as failure:
        deliver(hook, findings_message())
    assert failure.value.retryable is False


def test_audit_events_reach_a_webhook_as_one_signed_batch(webhook_receiver, webhook_to):
    webhook_to.event_format = "ocsf"
    forward_events(webhook_to, EVENTS)
    forward_events(webhook_to, EVENTS)  # a re-send after a crash: the same webhook-id
    first, second = webhook_receiver.wait_for(2)
    assert first.webhook_id == second.webhook_id
    events = first.payload["data"]["events"]
    assert [e["metadata"]["uid"] for e in events] == ["evt-0", "evt-1", "evt-2"]
    assert {e["class_uid"] for e in events} == {6003}


# --- Splunk HEC ------------------------------------------------------------------------------


def test_hec_gets_an_envelope_with_the_token(hec_receiver, hec_to):
    deliver(hec_to, findings_message())
    [envelope] = hec_receiver.wait_for(1)
    assert envelope["sourcetype"] == "mcp:finding"
    assert envelope["event"]["data"]["findings"][0]["id"] == 41
    assert envelope["fields"] == {"idempotency_key": "dlv-findings-1"}
    assert isinstance(envelope["time"], float)


def test_hec_events_are_concatenated_envelopes_one_per_event(hec_receiver, hec_to):
    hec_to.event_format = "cef"
    forward_events(hec_to, EVENTS)
    envelopes = hec_receiver.wait_for(3)
    assert hec_receiver.requests_seen == 1
    assert [e["fields"]["event_id"] for e in envelopes] == ["evt-0", "evt-1", "evt-2"]
    assert envelopes[0]["event"].startswith("CEF:0|")
    assert envelopes[0]["time"] == pytest.approx(EVENTS[0]["time"].timestamp())


def test_hec_wrong_token_is_not_retried_and_not_shown(hec_receiver):
    wrong = destination("splunk_hec", url=hec_receiver.url, secret="not-the-token")
    with pytest.raises(DeliveryFailed) as failure:
        deliver(wrong, findings_message())
    assert failure.value.retryable is False
    assert "Invalid token" in failure.value.detail and "not-the-token" not in failure.value.detail


def test_hec_busy_is_retryable(hec_receiver, hec_to):
    hec_receiver.fail_with(503, {"text": "Server is busy", "code": 9}, retry_after=3)
    with pytest.raises(DeliveryFailed) as failure:
        deliver(hec_to, findings_message())
    assert (failure.value.retryable, failure.value.retry_after) == (True, 3.0)
    assert "Server is busy" in failure.value.detail


def test_hec_over_https_trusts_the_destination_ca():
    material = make_tls_material()
    with HecReceiver(HEC_TOKEN, tls=material) as hec:
        trusting = destination(
            "splunk_hec", url=hec.url, secret=HEC_TOKEN, tls_ca_pem=material.ca_pem
        )
        deliver(trusting, findings_message())
        assert len(hec.wait_for(1)) == 1
        untrusting = destination("splunk_hec", url=hec.url, secret=HEC_TOKEN)
        with pytest.raises(DeliveryFailed, match="certificate") as failure:
            deliver(untrusting, findings_message())
        assert failure.value.retryable is False


# --- syslog ----------------------------------------------------------------------------------


def _syslog(receiver, transport, **fields):
    return destination(
        "syslog", host="127.0.0.1", port=receiver.port, syslog_transport=transport, **fields
    )


def test_syslog_over_tcp_sends_one_rfc5424_frame_per_finding_with_cef(syslog_tcp_receiver):
    deliver(_syslog(syslog_tcp_receiver, "tcp"), findings_message())
    first, second = syslog_tcp_receiver.wait_for(2)
    assert not syslog_tcp_receiver.rejected.snapshot()
    assert first.msgid == "findings.opened" and first.app_name == "mcp-governance"
    assert first.structured_data["mcpgov@32473"] == {"key": "dlv-findings-1", "finding": "41"}
    assert (first.facility, first.severity, second.severity) == (13, 2, 2)
    cef = first.cef
    assert cef["signature_id"] == "grant.unused_scope"
    assert cef["name"] == "Grant has write|admin scope = never used for 30 days"
    assert cef["severity"] == 8
    assert cef["extension"]["msg"] == FINDINGS[0]["summary"]
    assert cef["extension"]["cs1"] == "build-bot \\ repo:write"
    assert cef["extension"]["externalId"] == "41" and cef["extension"]["cnt"] == "3"
    rt = datetime(2026, 12, 5, 10, 0, 0, 250000, tzinfo=UTC).timestamp() * 1000
    assert cef["extension"]["rt"] == str(int(rt))
    assert second.cef["extension"]["cs1"] == "zoë@example.com"
    assert second.raw.split(b"] ", 1)[1].startswith("\ufeff".encode())  # UTF-8 MSG has a BOM


def test_syslog_over_tls_checks_the_certificate_against_the_destination_ca(
    syslog_tls_receiver, tls_material
):
    deliver(_syslog(syslog_tls_receiver, "tls", tls_ca_pem=tls_material.ca_pem), findings_message())
    assert len(syslog_tls_receiver.wait_for(2)) == 2
    other_ca = make_tls_material().ca_pem
    with pytest.raises(DeliveryFailed, match="certificate") as failure:
        deliver(_syslog(syslog_tls_receiver, "tls", tls_ca_pem=other_ca), findings_message())
    assert failure.value.retryable is False


def test_syslog_tls_checks_the_host_name():
    # A certificate from the trusted CA, but for another name than the one we connect to.
    material = make_tls_material(hostnames=("siem.example",))
    with SyslogReceiver(tls=material) as receiver:
        wrong_name = _syslog(receiver, "tls", tls_ca_pem=material.ca_pem)
        with pytest.raises(DeliveryFailed, match="certificate") as failure:
            deliver(wrong_name, findings_message())
    assert failure.value.retryable is False
    assert not receiver.received


def test_syslog_down_is_retryable(syslog_tcp_receiver):
    syslog_tcp_receiver.down()
    with pytest.raises(DeliveryFailed) as failure:
        deliver(_syslog(syslog_tcp_receiver, "tcp"), findings_message())
    assert failure.value.retryable is True


def test_audit_events_over_syslog_carry_their_event_id(syslog_tcp_receiver):
    target = _syslog(syslog_tcp_receiver, "tcp", event_format="cef")
    forward_events(target, EVENTS)
    frames = syslog_tcp_receiver.wait_for(3)
    assert [f.structured_data["mcpgov@32473"]["eventId"] for f in frames] == [
        "evt-0",
        "evt-1",
        "evt-2",
    ]
    assert [f.cef["extension"]["externalId"] for f in frames] == ["evt-0", "evt-1", "evt-2"]
    assert frames[0].msgid == "mcp.request"


# --- email -----------------------------------------------------------------------------------


def test_email_lists_the_findings_with_links_under_a_stable_message_id(smtp_receiver):
    to = destination("email", email_to="sec@example.com, oncall@example.com")
    deliver(to, findings_message())
    [mail] = smtp_receiver.wait_for(1)
    assert sorted(mail.rcpt_tos) == ["oncall@example.com", "sec@example.com"]
    assert mail.message["Subject"] == "2 findings: critical"
    assert mail.message["Message-ID"] == message_id("dlv-findings-1")
    assert "http://console.test/findings/41/" in mail.text
    assert "5 findings in this group" in mail.text


def test_email_server_down_is_retryable(smtp_receiver):
    smtp_receiver.down()
    with pytest.raises(DeliveryFailed) as failure:
        deliver(destination("email", email_to="sec@example.com"), findings_message())
    assert failure.value.retryable is True


def test_email_without_a_mail_server_configured_is_not_retried(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""
    with pytest.raises(DeliveryFailed, match="EMAIL_HOST") as failure:
        deliver(destination("email", email_to="sec@example.com"), findings_message())
    assert failure.value.retryable is False


def test_a_large_event_batch_is_split_into_bodies_the_receiver_takes(
    hec_receiver, hec_to, monkeypatch
):
    from governance.alerts import transports

    monkeypatch.setattr(transports, "HTTP_BODY_MAX_BYTES", 2000)
    many = [{**EVENTS[0], "event_id": f"evt-{n}"} for n in range(12)]
    forward_events(hec_to, many)
    envelopes = hec_receiver.wait_for(12)
    assert [e["fields"]["event_id"] for e in envelopes] == [f"evt-{n}" for n in range(12)]
    assert hec_receiver.requests_seen > 1


def test_a_test_message_over_syslog_is_one_cef_frame_named_test(syslog_tcp_receiver):
    message = OutgoingMessage(
        idempotency_key="test-9-abc",
        event_type="test",
        subject="Test message | from the console",
        severity="info",
        body=formats.findings_body("test", []),
        timestamp=time.time(),
    )
    deliver(_syslog(syslog_tcp_receiver, "tcp"), message)
    [frame] = syslog_tcp_receiver.wait_for(1)
    assert (frame.msgid, frame.severity) == ("test", 6)
    assert frame.structured_data["mcpgov@32473"] == {"key": "test-9-abc"}
    assert frame.cef["signature_id"] == "test"
    assert frame.cef["name"] == "Test message | from the console"
    assert frame.cef["extension"]["externalId"] == "test-9-abc"


def test_email_destinations_do_not_take_the_event_stream():
    with pytest.raises(DeliveryFailed) as failure:
        forward_events(destination("email", email_to="a@b.example"), EVENTS)
    assert failure.value.retryable is False


def test_syslog_and_https_trust_the_same_cas_through_contexts_of_their_own(tls_material):
    """One trust for every destination (the machine's store, the bundled CAs, the destination's
    CA), but not one context object: the HTTP client sets ALPN "http/1.1" on the contexts it is
    given, which a syslog receiver checking ALPN would refuse."""
    from governance.alerts import http_wire, syslog

    https = http_wire.ssl_context(tls_material.ca_pem)
    tls = syslog.tls_context(tls_material.ca_pem)
    assert https is not tls and syslog.tls_context(tls_material.ca_pem) is tls  # built once
    assert https.cert_store_stats() == tls.cert_store_stats()
    bundled_only = http_wire.ssl_context("").cert_store_stats()["x509_ca"]
    assert tls.cert_store_stats()["x509_ca"] == bundled_only + 1  # and the destination's CA


def test_a_webhook_body_of_events_fills_up_to_the_size_limit(
    webhook_receiver, webhook_to, monkeypatch
):
    """Bodies are split by the rendered events they carry: four fit under a limit sized for
    four (counting each event twice had sent two per body, twice the requests)."""
    from governance.alerts import transports

    many = [{**EVENTS[0], "event_id": f"evt-{n}"} for n in range(12)]
    one = len(transports._compact(formats.render_event(many[0], webhook_to.event_format)))
    monkeypatch.setattr(transports, "HTTP_BODY_MAX_BYTES", 4 * (one + 1) + 8)
    forward_events(webhook_to, many)
    requests = webhook_receiver.wait_for(3)
    assert [len(r.payload["data"]["events"]) for r in requests] == [4, 4, 4]
