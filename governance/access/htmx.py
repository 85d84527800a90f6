"""htmx responses shared by every app's pages: one URL answers a fragment to htmx and the whole
page otherwise (a history restore, a reload, no JS), so caches must keep the two apart."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def wants_fragment(request) -> bool:
    """An htmx request for part of the page (a history restore needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def render_fragment_or_page(request, page: str, fragment: str, context: dict, status: int = 200):
    """The fragment to htmx, the full page otherwise; caches must keep the two apart."""
    response = render(
        request, fragment if wants_fragment(request) else page, context, status=status
    )
    patch_vary_headers(response, ("HX-Request",))
    return response
