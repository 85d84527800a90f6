"""URL map. One DRF router for the whole API; each app registers its viewsets in its api.py."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

import audit.api
import inventory.api
from audit import views_ingest, views_otlp
from governance import views, views_account
from governance.api_docs import ApiDocsView, ApiRootView
from governance.roles import ADMIN, IsViewer, has_role

# No format-suffix routes (`/api/v1/audit-events.json`): they are not in the OpenAPI schema, so
# nothing tested them, and the audit-events ViewSet answered them 500. `?format=json` still works.
router = DefaultRouter()
router.include_format_suffixes = False
router.APIRootView = ApiRootView  # lists the docs and the schema too
inventory.api.register(router)
audit.api.register(router)

# The Django admin is read-mostly and for Admins only.
admin.site.has_permission = lambda request: (
    request.user.is_active and request.user.is_staff and has_role(request.user, ADMIN)
)

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", views_account.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        views_account.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    # The admin's own password page changes a password unrecorded: send it to the console's.
    path("admin/password_change/", RedirectView.as_view(pattern_name="password_change")),
    path("admin/", admin.site.urls),
    path("", include("governance.urls_ui")),
    path("inventory/", include("inventory.urls")),
    path("audit/", include("audit.urls")),
    # Event ingestion authenticates with source tokens, not users (see governance/roles.py).
    path("api/v1/events", views_ingest.ingest, name="audit-ingest"),
    path("api/v1/events/", views_ingest.ingest),
    path("api/v1/events/schema", views_ingest.event_schema, name="audit-event-schema"),
    # drf-spectacular serves the schema to anyone by default (AllowAny): Viewers and up only.
    path(
        "api/v1/schema/",
        SpectacularAPIView.as_view(permission_classes=[IsViewer]),
        name="api-schema",
    ),
    path("api/v1/docs/", ApiDocsView.as_view(), name="api-docs"),
    path("api/v1/", include(router.urls)),
    # OTLP/HTTP's fixed paths, so SDKs and Collectors need only the base endpoint.
    path("v1/traces", views_otlp.traces, name="otlp_traces"),
    path("v1/logs", views_otlp.logs, name="otlp_logs"),
]
