"""A scripted vendor API on 127.0.0.1: the base of the Entra, Keycloak, Auth0 and Google peers.

No offline copy of a SaaS admin API exists, so these peers are small HTTP servers whose answers
(status codes, error bodies, pagination, rate-limit headers) follow the vendor's documentation.
A peer is no emulator: it answers the calls the connector makes, from in-memory state the test
seeds and inspects. A subclass names its `token_path` and routes requests in `handle(request)`;
this base logs every request (for the URL-oracle tests), serves scripted faults first
(`fail_next`), answers one request at a time, and starts and stops the server thread.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass
class Request:
    """One request as the peer saw it."""

    method: str
    path: str  # percent-decoded
    raw_path: str  # as sent
    query: dict[str, str]  # the last value of each name, blank values kept
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def target(self) -> str:
        return f"{self.method} {self.raw_path}"

    @property
    def form(self) -> dict[str, str]:
        """The body as an `application/x-www-form-urlencoded` form (token requests)."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Answer:
    status: int
    body: dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedPeer:
    """A threaded HTTP server answering through `handle`; faults queued by `fail_next`."""

    # Faults script the vendor's API, not its token endpoint: a test of a 429 or a 503 must not
    # have to fetch a token first. Subclasses set the path their token endpoint answers on.
    token_path: str = ""

    def __init__(self):
        self.requests: list[Request] = []
        self._faults: list[Answer] = []
        # One request at a time: handlers mutate the state the test seeds and inspects, and
        # nothing a connector does needs two answers at once.
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int, status: int, *, body=None, headers=None) -> None:
        """The next `count` API requests (any route but the token endpoint) answer `status`."""
        with self._lock:
            self._faults.extend(Answer(status, body, dict(headers or {})) for _ in range(count))

    def throttle(self, count: int, retry_after: float = 1.0, *, body=None) -> None:
        """The next `count` API requests answer 429 with `Retry-After`, as each vendor here
        documents its throttling (Graph, Keycloak's proxies, Auth0 and Google alike)."""
        self.fail_next(count, 429, body=body, headers={"Retry-After": f"{retry_after:g}"})

    def answer(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            if self._faults and request.path != self.token_path:
                return self._faults.pop(0)
            return self.handle(request)

    def handle(self, request: Request) -> Answer:  # pragma: no cover - subclasses answer
        raise NotImplementedError


def unsigned_jwt(claims: dict) -> str:
    """A JWT-shaped token carrying `claims` (connectors read roles from it; nobody checks a
    signature on a token the peer itself validates by equality)."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


def _handler_for(peer: ScriptedPeer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _serve(self):
            length = int(self.headers.get("content-length") or 0)
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=unquote(parts.path),
                raw_path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            answer = peer.answer(request)
            payload = b"" if answer.body is None else json.dumps(answer.body).encode()
            self.send_response(answer.status)  # also sends Date, which rate limits use
            if payload:
                self.send_header("Content-Type", "application/json")
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            # One request per connection: no handler thread outlives stop() on a kept-alive one.
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
