"""Where an ingest endpoint reads its request body from (shared by the native and OTLP APIs)."""


class ChunkedBodyUnreadable(Exception):
    """A chunked body (no Content-Length) under a server that does not de-chunk it for us."""


def body_stream(request):
    """The stream holding the request body.

    Django reads exactly Content-Length bytes, so a chunked body (no Content-Length) would look
    empty and its events vanish. gunicorn de-chunks bodies in wsgi.input, so read that; under
    any other server refuse (callers answer 411) rather than lose events.
    """
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not chunked or request.META.get("CONTENT_LENGTH"):
        return request
    if "gunicorn.socket" in request.META:
        return request.META["wsgi.input"]
    raise ChunkedBodyUnreadable(
        "Send a Content-Length: chunked bodies are only read under gunicorn.")
