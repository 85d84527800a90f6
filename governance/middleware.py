"""Request checks that hold for every view, before any of them runs."""

from __future__ import annotations

from django.http import HttpResponseBadRequest, JsonResponse


class RefuseNulInQueryStringMiddleware:
    """A NUL character in a query parameter's name or value is the caller's error: 400.

    PostgreSQL text cannot hold NUL (psycopg raises DataError), so any view that passes a query
    parameter to a filter answered 500. Request bodies need no such check: form fields and DRF
    serializer fields already refuse NUL characters.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                shown = name.replace("\x00", "\\x00")
                detail = f"Query parameter '{shown}' contains a NUL character."
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": detail}, status=400)
                return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
