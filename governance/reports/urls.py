"""The report pages, included by governance/urls.py under governance/reports/ (namespace
`reports`: `reports:report_run_list`, `reports:report_schedule_create`)."""

from django.urls import path

from governance.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.run_list, name="report_run_list"),
    path("new/", views.run_create, name="report_run_create"),
    path("<int:pk>/", views.run_detail, name="report_run_detail"),
    path("<int:pk>/download/", views.run_download, name="report_run_download"),
    path("schedules/", views.schedule_list, name="report_schedule_list"),
    path("schedules/new/", views.schedule_create, name="report_schedule_create"),
    path("schedules/<int:pk>/", views.schedule_update, name="report_schedule_update"),
    path("schedules/<int:pk>/delete/", views.schedule_delete, name="report_schedule_delete"),
]
