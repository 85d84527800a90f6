"""The plumbing of the scripted vendor peers (entra.py, keycloak.py): an HTTP server on
127.0.0.1 (ephemeral port) that hands each request to the peer's `answer()`, logs every
request, and can be told to fail the next requests with a given status and headers.

A scripted peer is no emulator: it answers the calls the connector makes the way the vendor's
documentation says (status codes, pagination, rate-limit headers), from in-memory state the
test seeds and inspects.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    """One request as the peer saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def target(self) -> str:
        return f"{self.method} {self.path}"

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Answer:
    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedPeer(ThreadingHTTPServer):
    """Subclasses implement `answer(request) -> Answer`."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Request] = []
        self._faults: list[Answer] = []
        self._faults_skip = ("/token",)  # faults hit the admin API, not the token endpoint
        self.lock = threading.Lock()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def fail_next(self, count: int, status: int, headers: dict | None = None, body=None):
        """The next `count` admin-API requests get `status` (a 429 or 503 for a while)."""
        self._faults.extend(Answer(status, body, dict(headers or {})) for _ in range(count))

    def start(self) -> ScriptedPeer:
        threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def dispatch(self, request: Request) -> Answer:
        with self.lock:
            self.requests.append(request)
            if self._faults and not request.path.endswith(self._faults_skip):
                return self._faults.pop(0)
            return self.answer(request)

    def answer(self, request: Request) -> Answer:  # pragma: no cover - subclasses
        raise NotImplementedError


def unsigned_jwt(claims: dict) -> str:
    """A JWT-shaped token carrying `claims` (the connectors read roles from it; nobody checks
    a signature on a token the peer itself validates by equality)."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _serve(self):
        length = int(self.headers.get("content-length") or 0)
        parts = urlsplit(self.path)
        request = Request(
            self.command,
            parts.path,
            dict(parse_qsl(parts.query, keep_blank_values=True)),
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length) if length else b"",
        )
        answer = self.server.dispatch(request)
        payload = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        if payload:
            self.send_header("Content-Type", "application/json")
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
