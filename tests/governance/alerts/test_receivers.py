"""The receivers the delivery tests rely on (tests/receivers): each refuses connections while
down and takes messages again on the same port once up, which the outage tests need."""

from __future__ import annotations

import smtplib
import socket

import pytest

from tests.receivers import parse_syslog
from tests.receivers.syslog import read_frames


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.parametrize(
    "fixture", ["webhook_receiver", "hec_receiver", "syslog_tcp_receiver", "syslog_tls_receiver"]
)
def test_a_receiver_goes_down_and_comes_back_on_the_same_port(request, fixture):
    receiver = request.getfixturevalue(fixture)
    port = receiver.port
    receiver.down()
    assert _refused(port)
    receiver.up()
    assert receiver.port == port and not _refused(port)


def test_the_smtp_receiver_goes_down_and_comes_back(smtp_receiver):
    smtp_receiver.down()
    assert _refused(smtp_receiver.port)
    smtp_receiver.up()
    with smtplib.SMTP(smtp_receiver.host, smtp_receiver.port, timeout=5) as smtp:
        smtp.sendmail("a@example.com", ["b@example.com"], "Subject: hi\r\n\r\nbody\r\n")
    assert smtp_receiver.wait_for(1)[0].rcpt_tos == ["b@example.com"]


def test_the_syslog_receiver_rejects_what_is_not_rfc5424(syslog_tcp_receiver):
    with socket.create_connection(("127.0.0.1", syslog_tcp_receiver.port), timeout=5) as sock:
        sock.sendall(b"20 <13>Dec  5 host x: y")  # RFC 3164, octet-counted
    [(reason, frame)] = syslog_tcp_receiver.rejected.wait_for(1)
    assert "RFC 5424" in reason and frame == b"<13>Dec  5 host x: y"
    assert syslog_tcp_receiver.received == []


def test_octet_counting_counts_bytes_not_characters():
    import io

    frame = "<110>1 2026-12-05T12:00:00.000Z h app - id - \ufeffzoë".encode()
    stream = io.BytesIO(str(len(frame)).encode() + b" " + frame + b"5 <1>1")
    frames = read_frames(stream)
    assert parse_syslog(next(frames)).msg == "zoë"
    with pytest.raises(ValueError):
        next(frames)  # a frame cut short


def test_the_hec_receiver_checks_the_envelope(hec_receiver):
    import httpx

    from tests.receivers.fixtures import HEC_TOKEN

    answer = httpx.post(
        hec_receiver.url + "/services/collector/event",
        content=b'{"event":"a"}{"time":"noon","event":"b"}',
        headers={"Authorization": f"Splunk {HEC_TOKEN}"},
    )
    assert answer.status_code == 400
    assert answer.json() == {"text": "Invalid data format", "code": 6, "invalid-event-number": 1}
    assert hec_receiver.received == []
