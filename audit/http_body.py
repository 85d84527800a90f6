"""Reading an ingest endpoint's request body: bounded, de-chunked, decompressed (shared by the
native API and OTLP). Everything here is about hostile input: the body is read in chunks with a
cap, and decompression is bounded so a gzip bomb stops at the cap."""

import zlib

_CHUNK = 64 * 1024


class BodyError(Exception):
    """A request body we refuse as a whole; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ChunkedBodyUnreadable(Exception):
    """A chunked body (no Content-Length) under a server that does not de-chunk it for us."""


def read_request_body(request, *, limit: int, decoded_limit: int) -> bytes:
    """The request's body, decompressed per Content-Encoding, refusing anything past the
    limits: 400 bad Content-Length or compressed data, 411 unreadable chunked body, 413 too
    large (on the wire or inflated), 415 unknown encoding."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        raise BodyError(400, "Content-Length is not a number.") from None
    try:
        stream = body_stream(request)
    except ChunkedBodyUnreadable as exc:
        raise BodyError(411, str(exc)) from None
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
        "Send a Content-Length: this server cannot read chunked request bodies.")


def read_body(stream, *, content_length: int | None, limit: int) -> bytes:
    """Read at most `limit` bytes from `stream` in chunks; more than that is a 413."""
    if content_length is not None and content_length > limit:
        raise BodyError(413, f"Request body is {content_length} bytes; the limit is {limit}.")
    parts, total = [], 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
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
