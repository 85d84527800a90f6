"""Audit's URLs, all named `audit:<model>_<action>`: the console pages under /audit/, and the
ingest endpoints at the paths senders are configured with (/api/v1/events, OTLP's /v1/...)."""

from django.urls import include, path, register_converter

from audit import views, views_ingest, views_otlp


class ExportFormat:
    regex = "csv|ndjson"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(ExportFormat, "export_format")

app_name = "audit"
pages = [
    path("", views.explorer_view, name="event_list"),
    path("events/<int:pk>/", views.event_detail, name="event_detail"),
    path("suggest/<str:kind>/", views.explorer_suggest, name="event_suggest"),
    path("identities/<int:pk>/activity/", views.identity_activity, name="identity_activity"),
    path("export.<export_format:fmt>", views.export, name="event_export"),
    path("verify/", views.verify_now, name="chain_verify"),
    path("sources/", views.source_list, name="source_list"),
    path("sources/<int:pk>/", views.source_detail, name="source_detail"),
    path("sources/<int:pk>/<str:action>/", views.source_action, name="source_update"),
]
urlpatterns = [
    path("audit/", include(pages)),
    # Event ingestion authenticates with source tokens, not users (see governance/access/roles.py).
    path("api/v1/events", views_ingest.ingest, name="event_ingest"),
    path("api/v1/events/", views_ingest.ingest),
    path("api/v1/events/schema", views_ingest.event_schema, name="event_schema"),
    # OTLP/HTTP's fixed paths, so SDKs and Collectors need only the base endpoint.
    path("v1/traces", views_otlp.traces, name="trace_ingest"),
    path("v1/logs", views_otlp.logs, name="log_ingest"),
]
