"""Reading a request body: framed, bounded, timed, de-chunked, decompressed (the native API and
OTLP read through `read_request_body`; every other endpoint gets `GuardedInput` from the WSGI
wrapper, audit/wsgi_fast.py). Everything here is about hostile input: the body is read in chunks
with a cap, decompression is bounded so a gzip bomb stops at the cap, a body that ends before
its Content-Length is refused, and a body that has not arrived by a deadline is refused."""

import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.core.exceptions import BadRequest

_CHUNK = 64 * 1024
# Reads run on these threads so the request's thread can stop waiting at the deadline. A read
# of a client that stalls stays blocked until the client sends or goes away (no WSGI server
# lets us cancel it); the pool is large so such reads cannot starve everyone else's.
READER_THREADS = 256


class BodyError(Exception):
    """A request body we refuse as a whole; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ChunkedBodyUnreadable(Exception):
    """A chunked body (no Content-Length) under a server that does not de-chunk it for us."""


class BodyFramingError(BadRequest):
    """The body broke its framing: ended early, or too slow. A BadRequest, so Django answers
    400 wherever it is raised (forms, DRF); the ingest endpoints answer `status`."""

    status = 400


class BodyTruncated(BodyFramingError):
    """The body ended (the client stopped sending) before its Content-Length."""


class BodyTimeout(BodyFramingError):
    """The body had not fully arrived by the body-read deadline."""

    status = 408


def framing_error(meta: dict) -> BodyError | None:
    """Why a request's headers cannot frame a body, or None. Both Content-Length and
    Transfer-Encoding is the request-smuggling shape RFC 9112 section 6.1 lets a server refuse:
    a server that reads one and a proxy that read the other disagree where the next request
    starts. Transfer codings other than chunked are not decoded by any server we run under."""
    coding = meta.get("HTTP_TRANSFER_ENCODING")
    if coding is None:
        return None
    if meta.get("CONTENT_LENGTH"):
        return BodyError(400, "Send Content-Length or Transfer-Encoding: chunked, not both.")
    if coding.strip().lower() != "chunked":
        return BodyError(501, f"Transfer-Encoding {coding!r} is not supported (use chunked).")
    return None


def declared_length(meta: dict) -> int | None:
    """The request's Content-Length, or None without one (BodyError 400 when malformed)."""
    value = (meta.get("CONTENT_LENGTH") or "").strip()
    if not value:
        return None
    if not value.isdigit():  # also refuses "+5", " 5" and "-1", which int() would take
        raise BodyError(400, "Content-Length is not a number.")
    return int(value)


def read_request_body(request, *, limit: int, decoded_limit: int) -> bytes:
    """The request's body, decompressed per Content-Encoding, refusing anything past the
    limits: 400 bad framing or compressed data, 408 not arrived by the deadline, 411
    unreadable chunked body, 413 too large (on the wire or inflated), 415 unknown encoding,
    501 unknown transfer coding."""
    error = framing_error(request.META)
    if error:
        raise error
    declared = declared_length(request.META)
    try:
        stream = body_stream(request)
    except ChunkedBodyUnreadable as exc:
        raise BodyError(411, str(exc)) from None
    if not isinstance(request.META.get("wsgi.input"), GuardedInput):  # not already guarded
        stream = GuardedInput(stream, length=declared, timeout=body_read_timeout())
    raw = read_body(stream, content_length=declared, limit=limit)
    return decompress(raw, request.META.get("HTTP_CONTENT_ENCODING"), limit=decoded_limit)


def body_stream(request):
    """The stream holding the request body.

    Django reads exactly Content-Length bytes, so a chunked body (no Content-Length) would look
    empty and its events vanish. A server that de-chunks the body and ends wsgi.input at its
    end says so with `wsgi.input_terminated` (Granian, the production server, and gunicorn do):
    read that. Under any other server refuse (callers answer 411) rather than lose events.
    """
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not chunked or request.META.get("CONTENT_LENGTH"):
        return request
    if request.META.get("wsgi.input_terminated"):
        return request.META["wsgi.input"]
    raise ChunkedBodyUnreadable(
        "Send a Content-Length: this server cannot read chunked request bodies."
    )


def body_read_timeout() -> float:
    return float(settings.AUDIT_BODY_READ_TIMEOUT_SECONDS)


class GuardedInput:
    """A request body stream that refuses to end early or to arrive late.

    WSGI servers hand the app a stream that just ends when the client stops sending: Granian
    turns a connection dropped mid-body into an ordinary end of body, and wsgiref and Django's
    LimitedStream return short reads. Counting against Content-Length is the only way to tell
    a whole body from a cut one (BodyTruncated). And no server bounds how long a body may take
    (Granian has a header timeout only), so a client that trickles or stalls would hold a
    request thread forever: reads past the deadline raise BodyTimeout. `length` None is a
    chunked body, which ends where the server says.
    """

    def __init__(self, stream, *, length: int | None, timeout: float):
        self._stream = stream
        self._remaining = length
        self._deadline = time.monotonic() + timeout if timeout > 0 else None

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_CHUNK), b""))
        return self._take(self._stream.read, size, whole=True)

    def readline(self, size: int | None = -1, /) -> bytes:
        size = _CHUNK if size is None or size < 0 else size
        return self._take(self._stream.readline, size, whole=False)

    def _take(self, read, size: int, *, whole: bool) -> bytes:
        if self._remaining is None:
            return _timed(read, size, self._deadline)
        size = min(size, self._remaining)
        data = _timed(read, size, self._deadline) if size else b""
        # A short read is the server's end of body (Granian and wsgiref block until `size` or
        # the end): read on until `size` or the end, so the caller cannot take a cut body whole.
        while whole and 0 < len(data) < size:
            more = _timed(read, size - len(data), self._deadline)
            if not more:
                break
            data += more
        if size and (not data or (whole and len(data) < size)):
            raise BodyTruncated(
                f"The request body ended {self._remaining - len(data)} bytes "
                "before its Content-Length."
            )
        self._remaining -= len(data)
        return data


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _readers() -> ThreadPoolExecutor:
    # Made on first use, in the serving process (a pool made before a fork has no threads).
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="body-reader")
        return _pool


def _timed(read, size: int, deadline: float | None) -> bytes:
    """read(size), waited for until the deadline at most (~20 us of thread hand-off)."""
    if deadline is None:
        return read(size)
    left = deadline - time.monotonic()
    if left > 0:
        future = _readers().submit(read, size)
        try:
            return future.result(timeout=left)
        except FutureTimeout:
            pass
    raise BodyTimeout(f"The request body did not arrive within {body_read_timeout():g} seconds.")


def read_body(stream, *, content_length: int | None, limit: int) -> bytes:
    """Read at most `limit` bytes from `stream` in chunks; more than that is a 413, fewer than
    `content_length` a 400, a body not arrived by the deadline a 408."""
    if content_length is not None and content_length > limit:
        raise BodyError(413, f"Request body is {content_length} bytes; the limit is {limit}.")
    parts, total = [], 0
    while True:
        try:
            chunk = stream.read(_CHUNK)
        except BodyFramingError as exc:
            raise BodyError(exc.status, str(exc)) from None
        except OSError as exc:  # the connection failed mid-body (Django: UnreadablePostError)
            raise BodyError(400, f"The request body could not be read: {exc}.") from None
        if not chunk:
            if content_length is not None and total < content_length:
                raise BodyError(
                    400,
                    f"The request body ended after {total} of its "
                    f"{content_length} bytes (Content-Length).",
                )
            return b"".join(parts)
        total += len(chunk)
        if total > limit:
            raise BodyError(413, f"Request body exceeds the limit of {limit} bytes.")
        parts.append(chunk)


def decompress(body: bytes, encoding: str | None, *, limit: int) -> bytes:
    """Undo Content-Encoding (gzip, deflate or none), inflating at most `limit` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > limit:
            raise BodyError(413, f"Request body exceeds the limit of {limit} bytes.")
        return body
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS  # zlib-wrapped, which is what HTTP "deflate" means
    else:
        raise BodyError(415, f"Content-Encoding {encoding!r} is not supported (use gzip or none).")
    try:
        return _inflate(body, wbits=wbits, limit=limit, encoding=encoding)
    except zlib.error as exc:
        raise BodyError(400, f"Body is not valid {encoding} data: {exc}.") from None


def _inflate(body: bytes, *, wbits: int, limit: int, encoding: str) -> bytes:
    # max_length bounds every step, so a bomb never holds more than limit + one chunk inflated.
    # A gzip body may hold several members back to back (RFC 1952); each one is inflated.
    out, total, pending = [], 0, body
    while pending:
        inflater = zlib.decompressobj(wbits)
        while not inflater.eof:
            chunk = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            total += len(chunk)
            if total > limit:
                raise BodyError(413, f"Decompressed body exceeds the limit of {limit} bytes.")
            out.append(chunk)
            if not chunk and not pending:
                raise BodyError(400, f"Body is truncated {encoding} data.")
        pending = inflater.unused_data
    return b"".join(out)
