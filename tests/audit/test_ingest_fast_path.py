"""The ingest endpoint's direct WSGI path (audit/wsgi_fast.py) answers exactly as the Django
view does, keeps its security headers and never drops a request on an unexpected error."""

import io
import logging

import orjson
import pytest
from django.db import OperationalError
from django.test import Client

from audit.models import AuditEvent
from audit.services.sources import create_source
from governance.platform import webserver
from governance.wsgi import application
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(db):
    return create_source(name="gw-fast")[1]


def call(path, body=b"", *, method="POST", headers=None):
    """One request through the production WSGI application, as a server would make it."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    for key, value in (headers or {}).items():
        name = key.upper().replace("-", "_")
        environ[name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"] = value
    status = []
    chunks = application(environ, lambda s, h, exc_info=None: status.append((s, dict(h))))
    return int(status[0][0].split()[0]), status[0][1], b"".join(chunks)


CASES = [
    (
        "good batch",
        lambda t: (
            orjson.dumps([make_event(), {"id": "x"}]),
            {"Authorization": f"Bearer {t}", "Content-Type": "application/json"},
        ),
    ),
    ("no token", lambda t: (b"[]", {"Content-Type": "application/json"})),
    (
        "unknown token",
        lambda t: (b"[]", {"Authorization": "Bearer nope", "Content-Type": "application/json"}),
    ),
    (
        "wrong media type",
        lambda t: (b"[]", {"Authorization": f"Bearer {t}", "Content-Type": "text/plain"}),
    ),
    (
        "unparseable body",
        lambda t: (b"[{", {"Authorization": f"Bearer {t}", "Content-Type": "application/json"}),
    ),
    (
        "bad Content-Length",
        lambda t: (
            b"[]",
            {
                "Authorization": f"Bearer {t}",
                "Content-Type": "application/json",
                "Content-Length": "ten",
            },
        ),
    ),
]


@pytest.mark.parametrize("name,build", CASES, ids=[c[0] for c in CASES])
def test_the_direct_path_answers_as_the_django_view_does(token, name, build):
    body, headers = build(token)
    status, response_headers, content = call("/api/v1/events", body, headers=headers)

    django_headers = {
        (
            "CONTENT_TYPE"
            if k == "Content-Type"
            else "CONTENT_LENGTH"
            if k == "Content-Length"
            else "HTTP_" + k.upper().replace("-", "_")
        ): v
        for k, v in headers.items()
    }
    if name == "good batch":  # the same events again are duplicates now; send fresh ones
        body = orjson.dumps([make_event(), {"id": "x"}])
    expected = Client().generic("POST", "/api/v1/events", body, **django_headers)

    assert status == expected.status_code
    fast, slow = orjson.loads(content), orjson.loads(expected.content)
    assert fast == slow, (fast, slow)
    assert response_headers["Content-Type"] == "application/json"
    assert response_headers["X-Content-Type-Options"] == "nosniff"
    assert int(response_headers["Content-Length"]) == len(content)
    if status == 401:
        assert response_headers["WWW-Authenticate"].startswith("Bearer")


def test_other_paths_and_methods_still_go_through_django(token):
    status, headers, _ = call("/api/v1/events", method="GET")
    assert status == 405 and headers["Allow"] == "POST"
    status, headers, _ = call("/audit/", method="GET")
    assert status == 302 and "/login" in headers["Location"]  # Django's login-required stack
    status, _, content = call("/api/v1/events/schema", method="GET")
    assert status == 200 and b"$schema" in content


@pytest.mark.parametrize(
    "error, status, retry_after, detail",
    [
        (RuntimeError("boom"), 500, None, b"stored is unknown"),  # a bug: logged, answered
        (OperationalError("boom"), 503, "5", b"retry later"),  # the database is unavailable
    ],
)
def test_an_unexpected_error_is_a_logged_500_and_an_outage_a_503_not_a_dropped_request(
    token, monkeypatch, caplog, error, status, retry_after, detail
):
    def explode(**kwargs):
        raise error

    monkeypatch.setattr("audit.views_ingest.ingest_events", explode)
    with caplog.at_level(logging.ERROR):
        answer, headers, content = call(
            "/api/v1/events",
            orjson.dumps([make_event()]),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    assert answer == status and detail in content
    assert headers.get("Retry-After") == retry_after
    assert "boom" in caplog.text
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize(
    "scheme,forwarded,hsts",
    [
        ("https", None, True),
        ("http", None, False),
        ("http", "https", True),
        ("https", "http", False),
    ],
)
def test_hsts_follows_the_same_settings_as_the_django_path(
    token, settings, scheme, forwarded, hsts
):
    """HTTPS answers of the direct path carry Strict-Transport-Security exactly when Django's
    SecurityMiddleware would add it (a proxy's X-Forwarded-Proto included)."""
    from django.core.handlers.wsgi import WSGIHandler

    from audit.wsgi_fast import IngestFastPath

    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = False
    app = IngestFastPath(WSGIHandler())  # made after the settings change, as at start-up
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if forwarded:
        headers["X-Forwarded-Proto"] = forwarded

    answers = {}
    for path in ("/api/v1/events", "/api/v1/events/schema"):  # direct path, Django's stack
        environ = {
            "REQUEST_METHOD": "POST" if path == "/api/v1/events" else "GET",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "443",
            "wsgi.url_scheme": scheme,
            "HTTP_HOST": "testserver",
            "wsgi.input": io.BytesIO(orjson.dumps([make_event()])),
            "wsgi.errors": io.StringIO(),
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(orjson.dumps([make_event()]))),
        }
        for key, value in headers.items():
            name = key.upper().replace("-", "_")
            environ[name if name == "CONTENT_TYPE" else f"HTTP_{name}"] = value
        status = []
        b"".join(app(environ, lambda s, h, exc_info=None: status.append((s, dict(h)))))  # noqa: B023
        answers[path] = status[0]

    fast_status, fast_headers = answers["/api/v1/events"]
    _, django_headers = answers["/api/v1/events/schema"]
    assert fast_status.startswith("200")
    expected = "max-age=31536000; includeSubDomains" if hsts else None
    assert fast_headers.get("Strict-Transport-Security") == expected
    assert django_headers.get("Strict-Transport-Security") == expected
    assert fast_headers["X-Content-Type-Options"] == "nosniff"


def test_the_process_environment_never_reaches_request_meta(monkeypatch):
    """Servers like Granian copy os.environ into every environ: secrets must not ride along."""
    import os

    from audit.wsgi_fast import IngestFastPath

    monkeypatch.setenv("DATABASE_URL", "postgres://app:s3cret@db/app")
    seen = {}

    def django_app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [])
        return [b""]

    app = IngestFastPath(django_app)
    environ = {
        **os.environ,
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "HTTP_HOST": "x",
        "wsgi.input": io.BytesIO(b""),
    }
    app(environ, lambda *a: None)
    assert "DATABASE_URL" not in seen and "HOME" not in seen
    assert seen["REQUEST_METHOD"] == "GET" and seen["HTTP_HOST"] == "x"


def test_the_web_server_command_follows_the_environment_and_warns_about_connections(monkeypatch):
    monkeypatch.setenv("WEB_WORKERS", "3")
    monkeypatch.setenv("WEB_THREADS", "8")
    cmd = webserver.command("0.0.0.0:9000")
    assert (
        cmd[cmd.index("--workers") + 1] == "3" and cmd[cmd.index("--blocking-threads") + 1] == "8"
    )
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0" and cmd[cmd.index("--port") + 1] == "9000"
    assert cmd[-1] == "governance.wsgi:application" and "--respawn-failed-workers" in cmd
    assert webserver.connection_warning(cmd) is None
    monkeypatch.setenv("WEB_WORKERS", "16")
    assert "128 database connections" in webserver.connection_warning(webserver.command())
