"""The API's own documentation in the browser: Swagger UI served from this console (the
drf-spectacular-sidecar package ships its files, so no CDN), and an API root that links to it."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.reverse import reverse
from rest_framework.routers import APIRootView

from governance.access.roles import IsViewer


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI for /api/v1/schema/. The split view serves its init script as a separate
    JavaScript response (?script), and our template drops the stock inline <style>, so the page
    runs under the console's strict Content-Security-Policy."""

    permission_classes = [IsViewer]  # like the schema it shows
    template_name = "governance/api_docs.html"
    url_name = "api:schema"
    title = "MCP Governance Console API"


class ApiRootView(APIRootView):
    """The router's root, with the docs and the schema listed first."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        fmt = kwargs.get("format")
        response.data = {
            "docs": reverse("api:docs", request=request, format=fmt),
            "schema": reverse("api:schema", request=request, format=fmt),
            **response.data,
        }
        return response
