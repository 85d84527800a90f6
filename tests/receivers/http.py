"""The HTTP receivers' shared server: threaded, on 127.0.0.1 (optionally TLS), with a switch to
answer every request with a chosen failure (503 + Retry-After, 401...)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.receivers.inbox import Receiver
from tests.receivers.tls import TlsMaterial

MAX_BODY = 16 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class HttpReceiver(Receiver):
    """Subclasses implement `handle(method, path, headers, body) -> (status, dict)`."""

    def __init__(self, tls: TlsMaterial | None = None):
        super().__init__()
        self.tls = tls
        self._failure = None
        self._server = None
        self._thread = None
        self.requests_seen = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def fail_with(self, status: int, body: dict | None = None, *, retry_after=None) -> None:
        """Answer every request with `status` (and `body`) until recover()."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._failure = (status, body or {"text": "failing on purpose"}, headers)

    def clear(self) -> None:
        super().clear()
        self.requests_seen = 0

    def recover(self) -> None:
        self._failure = None

    def handle(self, method, path, headers, body):  # pragma: no cover - abstract
        raise NotImplementedError

    def _answer(self, method, path, headers, body):
        self.requests_seen += 1
        if self._failure:
            return self._failure
        status, answer = self.handle(method, path, headers, body)
        return status, answer, {}

    def _start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, MAX_BODY))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer, extra = receiver._answer("POST", self.path, headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST

            def log_message(self, *args):  # quiet test output
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        if self.tls:
            self._server.socket = self.tls.server_context().wrap_socket(
                self._server.socket, server_side=True
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
