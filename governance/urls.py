"""URL map. One DRF router for the whole API; each app registers its viewsets in its api.py.

Every route is named `app:model_action` (`inventory:server_list`, `audit:event_export`,
`api:registry_crawl`): the app's namespace, the model or page noun, then what the route does.
tests/governance/test_url_names.py holds the nouns and actions in use."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

import audit.api
import governance.alerts.api
import governance.containment.api
import governance.findings.api
import governance.idp.api
import governance.reports.api
import governance.reviews.api
import inventory.api
from governance.access.roles import ADMIN, IsViewer, has_role
from governance.api_docs import ApiDocsView, ApiRootView


class ApiRouter(DefaultRouter):
    """The one API router. Its routes are named like the pages, `<basename>_<action>`
    (`api:server_list`, `api:registry_crawl`), where DRF would say `server-list`."""

    routes = [route._replace(name=route.name.replace("-", "_")) for route in DefaultRouter.routes]
    root_view_name = "root"
    APIRootView = ApiRootView  # lists the docs and the schema too
    # No format-suffix routes (`/api/v1/audit-events.json`): they are not in the OpenAPI schema,
    # so nothing tested them, and the audit-events ViewSet answered them 500. `?format=json` works.
    include_format_suffixes = False


router = ApiRouter()
inventory.api.register(router)
audit.api.register(router)
governance.idp.api.register(router)
governance.containment.api.register(router)
governance.alerts.api.register(router)
governance.findings.api.register(router)
governance.reviews.api.register(router)
governance.reports.api.register(router)

# The Django admin is read-mostly and for Admins only.
admin.site.has_permission = lambda request: (
    request.user.is_active and request.user.is_staff and has_role(request.user, ADMIN)
)

# The API's own pages and the router's routes, named `api:<model>_<action>` (api:server_list).
api_urls = [
    # drf-spectacular serves the schema to anyone by default (AllowAny): Viewers and up only.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsViewer]), name="schema"),
    path("docs/", ApiDocsView.as_view(), name="docs"),
    *router.urls,
]

urlpatterns = [
    # The admin's own password page changes a password unrecorded: send it to the console's.
    path("admin/password_change/", RedirectView.as_view(pattern_name="governance:password_change")),
    path("admin/", admin.site.urls),
    path("", include("governance.urls_ui")),
    path("governance/revocations/", include("governance.containment.urls")),
    path("governance/alerts/", include("governance.alerts.urls")),
    path("governance/findings/", include("governance.findings.urls")),
    path("governance/reviews/", include("governance.reviews.urls")),
    path("governance/reports/", include("governance.reports.urls")),
    path("inventory/", include("inventory.urls")),
    # Audit's pages under audit/, and its ingest endpoints at the paths senders are set up with.
    path("", include("audit.urls")),
    path("api/v1/", include((api_urls, "api"))),
]
