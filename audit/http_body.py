"""Where an ingest endpoint reads its request body from (shared by the native and OTLP APIs)."""


class ChunkedBodyUnreadable(Exception):
    """A chunked body (no Content-Length) under a server that does not de-chunk it for us."""


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
