from django.urls import path, register_converter

from audit import views


class ExportFormat:
    regex = "csv|ndjson"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(ExportFormat, "export_format")
app_name = "audit"
urlpatterns = [
    path("", views.explorer_view, name="explorer"),
    path("events/<int:pk>/", views.event_detail, name="event_detail"),
    path("export.<export_format:fmt>", views.export, name="export"),
    path("verify/", views.verify_now, name="verify"),
    path("sources/", views.source_list, name="source_list"),
    path("sources/<int:pk>/", views.source_detail, name="source_detail"),
    path("sources/<int:pk>/<str:action>/", views.source_action, name="source_action"),
]
