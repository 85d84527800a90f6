"""The benchmarks' HTTP load generator: cheap on CPU, because it shares the cores it measures.

Each request is serialized up front and written with one `sendall` on a kept-alive socket (a
gateway keeps its connection), and the response is read by a minimal HTTP/1.1 parser
(Content-Length or chunked): ~0.06 ms of CPU per request, where http.client took ~0.2 ms, which
a one-event-per-request run is sensitive to.
"""

from __future__ import annotations

import socket
import threading
import time


def post_all(url, token, bodies, concurrency, content_type="application/json",
             extra_headers=None, accept=lambda status, data: status == 200,
             keepalive=True) -> float:
    """POST every body over `concurrency` threads; returns the elapsed seconds.

    The load generator shares these 2 cores with the server and PostgreSQL, so it should cost
    as little as it can: each request is serialized up front and written with one sendall on
    a kept-alive socket (a gateway keeps its connection), and the response is read with a
    minimal HTTP/1.1 parser (Content-Length or chunked). That is ~4x less CPU per request
    than http.client, which is what a one-event-per-request run is sensitive to. With
    keepalive=False each request opens its own connection.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    head = {"Host": f"{parts.hostname}:{parts.port}", "Authorization": f"Bearer {token}",
            "Content-Type": content_type, **(extra_headers or {})}
    if not keepalive:
        head["Connection"] = "close"
    prefix = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    requests = [(f"POST {parts.path} HTTP/1.1\r\n{prefix}Content-Length: {len(body)}\r\n\r\n"
                 .encode() + body) for body in bodies]
    errors = []

    def run(chunk):
        sock, reader = None, None
        for request in chunk:
            for attempt in range(2):
                if sock is None:
                    sock = socket.create_connection((parts.hostname, parts.port), timeout=120)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    reader = sock.makefile("rb")
                try:
                    sock.sendall(request)
                    status, data, closing = _read_response(reader)
                    break
                except (ConnectionError, EOFError):
                    reader.close(), sock.close()  # the server closed an idle connection: reopen
                    sock = None
                    if attempt:
                        raise
            if not accept(status, data):
                errors.append((status, data[:200]))
            if closing or not keepalive:
                reader.close(), sock.close()
                sock = None
        if sock is not None:
            reader.close(), sock.close()

    threads = [threading.Thread(target=run, args=(requests[i::concurrency],))
               for i in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return elapsed


def _read_response(reader) -> tuple[int, bytes, bool]:
    """(status, body, server will close) of one HTTP/1.1 response."""
    status_line = reader.readline()
    if not status_line:
        raise EOFError("connection closed")
    status = int(status_line.split()[1])
    length, chunked, closing = None, False, False
    while True:
        line = reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            closing = True
    if chunked:
        data = b""
        while True:
            size = int(reader.readline().split(b";")[0], 16)
            if size == 0:
                reader.readline()
                break
            data += reader.read(size)
            reader.readline()
        return status, data, closing
    if length is None:
        return status, reader.read(), True
    return status, reader.read(length), closing
