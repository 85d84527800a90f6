"""A scripted vendor API on 127.0.0.1: the base of the Auth0 and Google test peers.

No offline copy of a SaaS admin API exists, so these peers are small HTTP servers whose answers
(status codes, error bodies, pagination, rate-limit headers) follow the vendor's documentation.
A subclass routes requests in `handle(request)` and keeps the state (users, grants) in memory;
this base logs every request (for the URL-oracle tests), serves scripted faults first
(`fail_next`), and starts and stops the server thread.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    """One request as the peer saw it."""

    method: str
    path: str  # percent-decoded
    raw_path: str  # as sent
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class Answer:
    status: int
    body: dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedPeer:
    """A threaded HTTP server answering through `handle`; faults queued by `fail_next`."""

    def __init__(self):
        self.requests: list[Request] = []
        self._faults: list[Answer] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> ScriptedPeer:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int, status: int, body=None, headers=None) -> None:
        """The next `count` requests (any route) answer `status` instead."""
        with self._lock:
            self._faults.extend(Answer(status, body, headers or {}) for _ in range(count))

    def answer(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            if self._faults:
                return self._faults.pop(0)
        return self.handle(request)

    def handle(self, request: Request) -> Answer:  # pragma: no cover - subclasses answer
        raise NotImplementedError


def _handler_for(peer: ScriptedPeer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _serve(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=unquote(parts.path),
                raw_path=parts.path,
                query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                form={k: v[-1] for k, v in parse_qs(body).items()},
            )
            answer = peer.answer(request)
            payload = b"" if answer.body is None else json.dumps(answer.body).encode()
            self.send_response(answer.status)  # also sends Date, which rate limits use
            if payload:
                self.send_header("Content-Type", "application/json")
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = do_PATCH = _serve

    return Handler
