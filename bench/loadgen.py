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


def timed_threads(target, arg_lists: list[tuple]) -> float:
    """Run `target(*args)` in one thread per entry of `arg_lists`; seconds until all end."""
    threads = [threading.Thread(target=target, args=args) for args in arg_lists]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def post_all(
    url,
    token,
    bodies,
    concurrency,
    content_type="application/json",
    extra_headers=None,
    accept=lambda status, data: status == 200,
    keepalive=True,
) -> float:
    """POST every body over `concurrency` threads (see the module docstring); returns the
    elapsed seconds. With keepalive=False each request opens its own connection."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    head = {
        "Host": f"{parts.hostname}:{parts.port}",
        "Authorization": f"Bearer {token}",
        "Content-Type": content_type,
        **(extra_headers or {}),
    }
    if not keepalive:
        head["Connection"] = "close"
    prefix = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    requests = [
        (
            f"POST {parts.path} HTTP/1.1\r\n{prefix}Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        for body in bodies
    ]
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

    elapsed = timed_threads(run, [(requests[i::concurrency],) for i in range(concurrency)])
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
