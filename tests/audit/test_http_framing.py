"""A request body is taken only when it arrived whole, framed one way, and in time.

Sent byte by byte over raw sockets to the production web server (governance/platform/webserver.py:
Granian) and to Django's live server, because HTTP clients will not send a body shorter than its
Content-Length, or both framing headers, on purpose.
"""

import socket
import threading
import time

import httpx
import orjson
import pytest

from audit.models import AuditEvent
from audit.services.sources import create_source
from tests.ingest_helpers import make_event
from tests.web_server import WebServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The body-read deadline of the server under test; short so the slow-body tests stay fast.
DEADLINE_SECONDS = 1
# How long a test waits for an answer; far past the deadline, so a hang fails the test.
ANSWER_WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def web(django_db_setup):
    """The production server with its default body-read deadline (30 s)."""
    server = WebServer()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def impatient_web(django_db_setup):
    """The production server with a short body-read deadline, for the slow-body tests only (a
    busy machine can take longer than that to reach the body of any request)."""
    server = WebServer(env={"AUDIT_BODY_READ_TIMEOUT_SECONDS": str(DEADLINE_SECONDS)})
    yield server
    server.kill()


def _native_body(source) -> bytes:
    return orjson.dumps([make_event(), make_event()])


def _otlp_body(source) -> bytes:
    now_ns = str(time.time_ns())
    return orjson.dumps(
        {
            "resourceLogs": [
                {
                    "scopeLogs": [
                        {
                            "logRecords": [
                                {
                                    "timeUnixNano": now_ns,
                                    "attributes": [
                                        {
                                            "key": "mcp.method.name",
                                            "value": {"stringValue": "tools/list"},
                                        }
                                    ],
                                },
                            ]
                        }
                    ]
                }
            ]
        }
    )


# Every path that reads a body through audit/http_body.py: the native API on its fast WSGI path
# (both spellings) and the OTLP receivers on Django's.
ENDPOINTS = ["/api/v1/events", "/api/v1/events/", "/v1/logs", "/v1/traces"]


def _body_for(path: str, source) -> bytes:
    if path == "/v1/traces":
        return orjson.dumps(
            {
                "resourceSpans": [
                    {
                        "scopeSpans": [
                            {
                                "spans": [
                                    {
                                        "traceId": "5b8efff798038103d269b633813fc60c",
                                        "spanId": "eee19b7ec3c1b174",
                                        "name": "tools/call get-weather",
                                        "kind": 2,
                                        "startTimeUnixNano": str(time.time_ns() - 10**9),
                                        "endTimeUnixNano": str(time.time_ns()),
                                        "attributes": [
                                            {
                                                "key": "mcp.method.name",
                                                "value": {"stringValue": "tools/call"},
                                            },
                                            {
                                                "key": "gen_ai.tool.name",
                                                "value": {"stringValue": "get-weather"},
                                            },
                                        ],
                                    }
                                ]
                            }
                        ]
                    }
                ]
            }
        )
    return _otlp_body(source) if path == "/v1/logs" else _native_body(source)


def _head(path: str, token: str, **headers) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {token}",
        "Content-Type: application/json",
        *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes or stops (the status line is enough)."""
    sock.settimeout(ANSWER_WAIT_SECONDS)
    data = b""
    try:
        while b"\r\n\r\n" not in data or not _complete(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return data


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _status(answer: bytes) -> int | None:
    return int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/1.") else None


def _stored(source) -> int:
    return AuditEvent.objects.filter(source=source).count()


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_body_that_ends_before_its_content_length_is_refused_and_nothing_is_stored(web, path):
    source, token = create_source(name=f"gw-cut{path.replace('/', '-')}")
    body = _body_for(path, source)
    with socket.create_connection(("127.0.0.1", web.port)) as sock:
        # The whole body, announced as longer: the client stopped sending, then half-closes.
        sock.sendall(_head(path, token, Content_Length=len(body) + 100) + body)
        sock.shutdown(socket.SHUT_WR)
        answer = _answer(sock)
    assert _status(answer) == 400, answer
    assert b"Content-Length" in answer
    assert _stored(source) == 0


@pytest.mark.parametrize("path", ["/api/v1/events", "/v1/logs"])
def test_a_body_that_stalls_gets_408_at_the_deadline_and_nothing_is_stored(impatient_web, path):
    web = impatient_web
    source, token = create_source(name=f"gw-stall{path.replace('/', '-')}")
    body = _body_for(path, source)
    with socket.create_connection(("127.0.0.1", web.port)) as sock:
        sock.sendall(_head(path, token, Content_Length=len(body)) + body[:-10])
        answer = _answer(sock)  # the connection stays open: only the deadline can end this
    assert _status(answer) == 408, answer
    assert _stored(source) == 0


def test_a_body_that_trickles_in_gets_408_at_the_deadline_and_nothing_is_stored(impatient_web):
    web = impatient_web
    source, token = create_source(name="gw-trickle")
    body = _native_body(source)
    with socket.create_connection(("127.0.0.1", web.port)) as sock:
        sock.sendall(_head("/api/v1/events", token, Content_Length=len(body)))
        stop = threading.Event()

        def trickle():  # a byte every 50 ms: the whole body would take many deadlines
            for byte in body[:-1]:
                if stop.wait(0.05):
                    return
                sock.sendall(bytes([byte]))

        sender = threading.Thread(target=trickle)
        sender.start()
        try:
            answer = _answer(sock)
        finally:
            stop.set()
            sender.join()
    assert _status(answer) == 408, answer
    assert _stored(source) == 0


def test_a_form_post_that_ends_early_is_refused_not_processed(web):
    # Every endpoint reads through the same guard: the login form's POST is cut short.
    page = httpx.get(f"{web.url}/accounts/login/", timeout=ANSWER_WAIT_SECONDS)
    csrf = page.cookies["csrftoken"]
    form = f"csrfmiddlewaretoken={csrf}&username=ada&password=correct-horse-battery".encode()
    with socket.create_connection(("127.0.0.1", web.port)) as sock:
        sock.sendall(
            b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            + f"Cookie: csrftoken={csrf}\r\nReferer: {web.url}/\r\n".encode()
            + f"Content-Length: {len(form) + 20}\r\n\r\n".encode()
            + form
        )
        sock.shutdown(socket.SHUT_WR)
        answer = _answer(sock)
    assert _status(answer) == 400, answer  # not the form processed as if it were whole


def _chunked(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize("path", ["/api/v1/events", "/v1/logs"])
def test_both_content_length_and_chunked_are_refused_by_the_app_and_nothing_is_stored(
    live_server, path
):
    # Django's live server hands the app both headers, as gunicorn or runserver would.
    source, token = create_source(name=f"gw-both{path.replace('/', '-')}")
    body = _body_for(path, source)
    port = int(live_server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            _head(path, token, Content_Length=len(body), Transfer_Encoding="chunked")
            + _chunked(body)
        )
        answer = _answer(sock)
    assert _status(answer) == 400, answer
    assert b"not both" in answer
    assert _stored(source) == 0


def test_both_content_length_and_chunked_cannot_smuggle_a_request_past_the_production_server(web):
    # Granian never shows the app both headers: it frames by Transfer-Encoding, drops the
    # Content-Length and closes the connection after answering (RFC 9112 section 6.1). So a
    # second request hidden where Content-Length says the body ends is never answered.
    source, token = create_source(name="gw-smuggle")
    smuggled = _head("/api/v1/events", token, Content_Length=len(_native_body(source)))
    body = _native_body(source)
    framed = _chunked(body)
    with socket.create_connection(("127.0.0.1", web.port)) as sock:
        sock.sendall(
            _head("/api/v1/events", token, Content_Length=3, Transfer_Encoding="chunked")
            + framed
            + smuggled
            + _native_body(source)
        )
        sock.settimeout(ANSWER_WAIT_SECONDS)
        answers = b""
        while chunk := sock.recv(65536):
            answers += chunk
    assert answers.count(b"HTTP/1.1 ") == 1, answers
    assert b"connection: close" in answers.lower()


@pytest.mark.parametrize("coding", ["gzip, chunked", "identity"])
def test_a_transfer_coding_other_than_chunked_gets_501(live_server, coding):
    source, token = create_source(name=f"gw-te-{coding[:4]}")
    port = int(live_server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            _head("/api/v1/events", token, Transfer_Encoding=coding)
            + _chunked(_native_body(source))
        )
        answer = _answer(sock)
    assert _status(answer) == 501, answer
    assert _stored(source) == 0
