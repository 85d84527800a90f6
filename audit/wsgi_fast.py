"""The ingest endpoints' direct WSGI path, in front of Django's handler.

`POST /api/v1/events` is the hot path for senders that post one event at a time (MCP servers
without a batching gateway). Django's request object, its ten middlewares and URL resolution
cost ~0.2 ms of CPU per request there and do nothing for it: the endpoint authenticates with a
source token (no session, user, CSRF or login redirect), serves no static file and renders no
HTML. So this WSGI wrapper hands exactly that method and path to the same view function with a
minimal request object, and everything else to Django unchanged. It keeps what those layers
would have given this endpoint: the database-connection lifecycle (what the request_started/
finished signals do for connections; their other receivers, the query log and cache handles,
do nothing for this view), SecurityMiddleware's response headers (its own `process_response`,
so HSTS, nosniff, referrer and opener policies follow the same settings as every other page),
and an answer for an unexpected error (500 JSON, logged) instead of a dropped connection.

It also removes the process environment from every request's environ. Granian (like wsgiref
and Django's runserver) starts each environ from a copy of os.environ, so SECRET_KEY,
DATABASE_URL and FIELD_ENCRYPTION_KEY would sit in request.META, where error reports and
debugging code look. Only CGI, HTTP_* and wsgi.* keys belong there.

And it guards every request's body framing, for every endpoint (audit/http_body.py): a request
with both Content-Length and Transfer-Encoding is refused before any view runs, and wsgi.input
becomes a stream that raises when the body ends before its Content-Length or arrives after the
body-read deadline (Django answers 400 for those; the ingest endpoints 400 and 408).
"""

from __future__ import annotations

import logging
import os

import orjson
from django.core.handlers.wsgi import LimitedStream
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.middleware.security import SecurityMiddleware

from audit.http_body import (
    BodyError,
    GuardedInput,
    body_read_timeout,
    declared_length,
    framing_error,
)

log = logging.getLogger(__name__)

FAST_PATHS = {"/api/v1/events", "/api/v1/events/"}
CGI_KEYS = {
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
    "GATEWAY_INTERFACE",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_USER",
    "AUTH_TYPE",
    "HTTPS",
    "RAW_URI",
    "REQUEST_URI",
}


class IngestRequest:
    """What the ingest view reads of a request: method, META and the body stream."""

    def __init__(self, environ: dict):
        self.META = environ
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        self.path = environ.get("PATH_INFO", "")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except (ValueError, TypeError):
            length = 0  # as Django does; the view answers 400 for a malformed Content-Length
        self._stream = LimitedStream(environ["wsgi.input"], max(length, 0))

    def read(self, *args, **kwargs) -> bytes:
        return self._stream.read(*args, **kwargs)

    # Django's own scheme logic (SECURE_PROXY_SSL_HEADER included), for SecurityMiddleware.
    scheme = HttpRequest.scheme
    is_secure = HttpRequest.is_secure

    def _get_scheme(self) -> str:
        return self.META.get("wsgi.url_scheme", "http")


class IngestFastPath:
    """WSGI middleware: the native ingest endpoint straight to its view; the rest to Django."""

    def __init__(self, django_app):
        self.django_app = django_app
        self.security = None  # SecurityMiddleware, made after Django is set up
        self._process_env: dict[str, str] = {}
        self._process_env_size = -1

    def _strippable_env(self) -> dict[str, str]:
        """The process environment's variables that are no CGI/HTTP/WSGI key, as a plain dict:
        `os.environ.get` encodes and decodes on every call (~10% of a one-event request's
        Python time went to that). Rebuilt when the environment gains or loses a variable."""
        if len(os.environ) != self._process_env_size:
            self._process_env = {
                key: value
                for key, value in os.environ.items()
                if key not in CGI_KEYS and not key.startswith(("HTTP_", "wsgi."))
            }
            self._process_env_size = len(os.environ)
        return self._process_env

    def __call__(self, environ, start_response):
        process_env = self._strippable_env()
        for key in process_env.keys() & environ.keys():
            if environ[key] == process_env[key]:  # not something the request itself set
                del environ[key]
        refused = framing_error(environ)
        if refused:
            return _answer(start_response, refused.status, refused.message)
        guard_body(environ)
        if environ.get("PATH_INFO") not in FAST_PATHS or environ.get("REQUEST_METHOD") != "POST":
            return self.django_app(environ, start_response)
        from audit.views_ingest import ingest  # after Django is set up

        if self.security is None:
            self.security = SecurityMiddleware(ingest)
        close_old_connections()  # what request_started does for the database
        try:
            request = IngestRequest(environ)
            try:
                response = ingest(request)
            except Exception:  # noqa: BLE001 - the view maps every known failure itself
                log.exception("ingest: unexpected error")
                # The error may come after the batch committed, so never claim it was not
                # stored: ids make a retry safe (duplicates are acknowledged, not stored twice).
                response = HttpResponse(
                    b'{"detail": "Internal error; whether the batch was stored is unknown. '
                    b"Retry it with the same event ids: events already stored are reported as "
                    b'duplicates, not stored twice."}',
                    status=500,
                    content_type="application/json",
                )
            response = self.security.process_response(request, response)
            content = response.content
            headers = [*response.items(), ("Content-Length", str(len(content)))]
            start_response(f"{response.status_code} {response.reason_phrase}", headers)
            return [content]
        finally:
            close_old_connections()  # what request_finished does for the database


def guard_body(environ: dict) -> None:
    """Put a request that has a body behind GuardedInput (length and deadline checked)."""
    try:
        length = declared_length(environ)
    except BodyError:
        return  # Django reads a malformed Content-Length as 0; the ingest views answer 400
    if length or "HTTP_TRANSFER_ENCODING" in environ:
        environ["wsgi.input"] = GuardedInput(
            environ["wsgi.input"], length=length, timeout=body_read_timeout()
        )


def _answer(start_response, status: int, message: str):
    """A JSON error straight from the wrapper, for requests refused before any view runs."""
    response = HttpResponse(
        orjson.dumps({"detail": message}), status=status, content_type="application/json"
    )
    content = response.content
    start_response(
        f"{status} {response.reason_phrase}",
        [*response.items(), ("Content-Length", str(len(content)))],
    )
    return [content]
