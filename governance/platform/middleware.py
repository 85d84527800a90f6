"""Request checks that hold for every view, before any of them runs."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from django.conf import settings
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


class SecurityHeadersMiddleware:
    """A strict Content-Security-Policy on every response, and `Cache-Control: no-store` on every
    response that sets no caching of its own.

    The policy allows scripts and styles from the console's own origin only: no inline script,
    no eval (htmx runs with allowEval off; charts are JSON data blocks drawn by static JS, see
    governance/access/charts.py). A fixed header from one setting needs no library: django-csp's
    nonces and per-view decorators are for pages that keep inline script, and we keep none.

    Pages and API answers hold audit events and inventory (who called which tool, tokens shown
    once): a shared proxy or the browser's disk cache must not keep them. Static files are
    served before this point (whitenoise) with their own long-lived Cache-Control.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = current_policy(
            settings.CONTENT_SECURITY_POLICY,
            getattr(settings, "OIDC_ISSUER", ""),
            tuple(getattr(settings, "OIDC_FORM_ACTION_ORIGINS", ())),
        )
        if policy and "Content-Security-Policy" not in response:
            # DRF's browsable API (HTML for a browser at /api/) writes style="" attributes and a
            # <style> block in its own templates; its scripts are files, so only styles relax.
            renderer = getattr(response, "accepted_renderer", None)
            browsable = getattr(renderer, "format", "") == "api"
            response["Content-Security-Policy"] = (
                with_inline_styles(policy) if browsable else policy
            )
        if "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"
        return response


@functools.lru_cache(maxsize=8)
def current_policy(policy: str, oidc_issuer: str, form_origins: tuple[str, ...]) -> str:
    """The policy, with company sign-in's IdP among the places a form may lead to.

    "Sign in with …" and "Log out" are forms whose answer redirects to the IdP (its
    authorization and end-session endpoints); Chromium applies `form-action` to those
    redirects too, so a strict `form-action 'self'` would stop company sign-in at the first
    click. The IdP's origin (and any OIDC_FORM_ACTION_ORIGINS, for an IdP whose endpoints live
    elsewhere) is added to `form-action` when sign-in is configured; nothing else relaxes."""
    origins = [_origin(url) for url in (oidc_issuer, *form_origins) if url]
    origins = [o for o in dict.fromkeys(origins) if o]
    if not policy or not origins:
        return policy
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    return "; ".join(
        " ".join([d, *origins]) if d.split()[0] == "form-action" else d for d in directives
    )


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def with_inline_styles(policy: str) -> str:
    """`policy` with `style-src 'self' 'unsafe-inline'` (any hash would void 'unsafe-inline')."""
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    return "; ".join(
        "style-src 'self' 'unsafe-inline'" if d.split()[0] == "style-src" else d for d in directives
    )
