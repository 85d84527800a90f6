"""The fetcher's connections: pinned to the checked address, every socket operation bounded by
the fetch's total deadline, kept alive per (scheme, host, port, approved addresses).

Used only by inventory/fetch.py, which sets `state.deadline` for the fetch running on this
thread and reads `state.peer_closed` (the peer closed the connection during this fetch).
"""

from __future__ import annotations

import collections
import functools
import pathlib
import ssl
import threading
import time

import httpcore
import httpx
from django.conf import settings

from inventory.fetch_policy import FetchError, _Target

# The deadline of the fetch running on this thread. httpcore's sync I/O happens on the caller's
# thread, so a kept-alive connection serving a later fetch obeys that fetch's deadline.
state = threading.local()


def _budget(timeout, exc=httpcore.ReadTimeout):
    deadline = getattr(state, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise exc("total fetch deadline exceeded")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read/write waits at most until the fetch's deadline."""

    def __init__(self, inner):
        self._inner = inner

    def read(self, max_bytes, timeout=None):
        data = self._inner.read(max_bytes, _budget(timeout))
        if not data:  # the peer closed: what tells a cut-off response from a malformed one
            state.peer_closed = True
        return data

    def write(self, buffer, timeout=None):
        return self._inner.write(buffer, _budget(timeout, httpcore.WriteTimeout))

    def close(self):
        return self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        # server_hostname is the URL's host: SNI and certificate checks use the name, not the IP.
        return _DeadlineStream(
            self._inner.start_tls(
                ssl_context, server_hostname, _budget(timeout, httpcore.ConnectTimeout)
            )
        )

    def get_extra_info(self, info):
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the address check_url() approved for this host, never resolving again."""

    def __init__(self, host: str, port: int, addresses: tuple[str, ...]):
        self.pin = (host.strip("[]"), port, addresses)
        self._sync = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        want_host, want_port, addresses = self.pin
        if (host.lower().rstrip(".").strip("[]"), port) != (want_host, want_port):
            # Never happens for our own requests; refuses anything httpcore did not expect.
            raise httpcore.ConnectError(f"refusing unpinned connection to {host}:{port}")
        for index, address in enumerate(addresses):  # in resolver order, like a normal client
            try:
                stream = self._sync.connect_tcp(
                    address,
                    port,
                    _budget(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
                return _DeadlineStream(stream)
            except httpcore.ConnectError:
                if index == len(addresses) - 1:
                    raise

    def sleep(self, seconds):  # pragma: no cover - only used by httpcore retries, which are off
        time.sleep(seconds)


def _ssl_context() -> ssl.SSLContext:
    """The bundled CAs plus settings.FETCH_EXTRA_CA_CERTS (a company CA in front of a registry
    or an IdP); hostname checking and verification stay on whatever is added."""
    return _ssl_context_for(settings.FETCH_EXTRA_CA_CERTS or "")


@functools.lru_cache(maxsize=4)
def _ssl_context_for(extra_ca: str) -> ssl.SSLContext:
    # Built once per setting: loading the CA bundle costs milliseconds per fetch otherwise.
    context = httpx.create_ssl_context(trust_env=False)
    if not extra_ca:
        return context
    path = pathlib.Path(extra_ca)
    try:
        # A directory is read file by file: capath= would need OpenSSL's hashed file names.
        files = (
            sorted(p for p in path.iterdir() if p.suffix.lower() in (".pem", ".crt"))
            if path.is_dir()
            else [path]
        )
        for file in files:
            context.load_verify_locations(cafile=str(file))
    except (OSError, ssl.SSLError) as exc:
        raise FetchError(
            "internal_error", f"FETCH_EXTRA_CA_CERTS: cannot load {extra_ca!r}: {exc}"
        ) from None
    return context


# One keep-alive client per (scheme, host, port, checked addresses): a connection is only ever
# reused for the same name *and* the same approved addresses, so re-resolving to a new address
# gets a new pool (and a new check). Bounded; evicted clients are dropped, not closed, because
# another thread may still be using them (their sockets close when collected).
_POOLS: collections.OrderedDict = collections.OrderedDict()
_POOLS_LOCK = threading.Lock()
MAX_POOLS = 64


def client_for(target: _Target) -> httpx.Client:
    context = _ssl_context()  # outside the lock: a bad CA setting raises FetchError here
    # The CA setting is in the key: once it changes, no connection verified without it is reused.
    key = (
        target.url.scheme,
        target.host,
        target.port,
        target.addresses,
        settings.FETCH_EXTRA_CA_CERTS or "",
    )
    with _POOLS_LOCK:
        client = _POOLS.get(key)
        if client is not None:
            _POOLS.move_to_end(key)
            return client
        transport = httpx.HTTPTransport(verify=context, trust_env=False)
        # httpx has no public hook for the network backend; swap its pool for one that pins.
        transport._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=15.0,
            network_backend=_PinnedBackend(target.host, target.port, target.addresses),
        )
        client = httpx.Client(transport=transport, trust_env=False, follow_redirects=False)
        _POOLS[key] = client
        while len(_POOLS) > MAX_POOLS:
            _POOLS.popitem(last=False)
        return client
