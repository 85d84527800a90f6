"""A real HTTP server on 127.0.0.1 (ephemeral port) for fetcher, CIMD and OAuth-metadata tests.

Routes map a path to a Route (status, headers, body, optional slow drip) or to a callable
returning one, so a test can change what a URL serves between two fetches. The server counts
the TCP connections it accepted, which lets tests prove a refused fetch never connected.
RawServer answers with exact bytes instead, for responses no HTTP server library would send.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json"
    drip_delay: float = 0.0  # seconds between single bytes: a slow-drip body
    omit_length: bool = False  # no Content-Length: the reader must cap while streaming

    def payload(self) -> bytes:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _serve(self):
        server = self.server
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        server.requests.append((self.command, self.path, dict(self.headers), body))
        route = server.routes.get(self.path.split("?")[0])
        if callable(route):
            route = route(self)
        if route is None:
            route = Route(status=404, body={"error": "not found"})
        payload = route.payload()
        self.send_response(route.status)
        if route.content_type:
            self.send_header("Content-Type", route.content_type)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if not (route.drip_delay or route.omit_length):
            self.send_header("Content-Length", str(len(payload)))
        if not server.keep_alive:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            if route.drip_delay:
                for i in range(len(payload)):
                    self.wfile.write(payload[i : i + 1])
                    self.wfile.flush()
                    if server.stopping.wait(route.drip_delay):
                        return
            else:
                for i in range(0, len(payload), 1024):
                    self.wfile.write(payload[i : i + 1024])
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_HEAD = _serve


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, ssl_context=None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scheme = "http"
        if ssl_context is not None:  # HTTPS: the TLS handshake happens as a connection is accepted
            self.socket = ssl_context.wrap_socket(self.socket, server_side=True)
            self.scheme = "https"
        self.routes: dict = {}
        self.requests: list = []
        self.connections = 0
        self.keep_alive = False  # True: HTTP/1.1 persistent connections
        self.stopping = threading.Event()

    def get_request(self):
        conn = super().get_request()
        self.connections += 1
        return conn

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> LocalServer:
        threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class RawServer:
    """A TCP server on 127.0.0.1 that reads a request and answers with exact bytes, then closes.

    `answers` are used one per connection, the last one repeated; `connections` counts them.
    """

    def __init__(self, *answers: bytes):
        self.answers = list(answers)
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)  # accept() wakes up to notice stop
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                answer = self.answers[min(self.connections, len(self.answers) - 1)]
                self.connections += 1
                conn.settimeout(5)
                try:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        request += chunk
                    conn.sendall(answer)
                except OSError:
                    pass

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._sock.close()


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released): connecting is refused."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 5.0) -> bool:
    """Poll for a condition another thread makes true (not a timing assertion)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
