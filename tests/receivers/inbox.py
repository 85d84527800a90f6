"""What a receiver accepted, shared between its server thread and the test."""

from __future__ import annotations

import socket
import threading
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """A thread-safe list the test can wait on."""

    def __init__(self):
        self._items: list = []
        self._changed = threading.Condition()

    def add(self, item) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def snapshot(self) -> list:
        with self._changed:
            return list(self._items)

    def clear(self) -> None:
        with self._changed:
            self._items.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list:
        """At least `count` items (all of them, in arrival order), waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} messages within {timeout:g}s, got "
                        f"{len(self._items)}: {self._items!r:.2000}"
                    )
                self._changed.wait(left)
            return list(self._items)


class Receiver:
    """Start/stop, down/up on a fixed port, and the two inboxes; subclasses make the server."""

    def __init__(self):
        self.port = free_port()
        self.inbox = Inbox()
        self.rejected = Inbox()
        self.is_up = False

    # subclasses: _start() binds self.port and serves in a thread; _stop() closes the listener
    def _start(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _stop(self):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def received(self) -> list:
        return self.inbox.snapshot()

    def wait_for(self, count: int, timeout: float = 10.0) -> list:
        return self.inbox.wait_for(count, timeout)

    def clear(self) -> None:
        self.inbox.clear()
        self.rejected.clear()

    def up(self):
        if not self.is_up:
            self._start()
            self.is_up = True
        return self

    def down(self) -> None:
        """Stop listening: new connections are refused until up() (on the same port)."""
        if self.is_up:
            self._stop()
            self.is_up = False

    start, stop = up, down

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc_info):
        self.down()
