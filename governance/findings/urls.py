"""The findings pages, included by governance/urls.py under governance/findings/ (names in the
`findings` namespace: `findings:finding_list`, `findings:finding_update`, ...)."""

from django.urls import path

from governance.findings import views, views_rules

app_name = "findings"
urlpatterns = [
    path("", views.finding_list, name="finding_list"),
    path("bulk/", views.finding_bulk, name="finding_bulk"),
    path("rules/", views_rules.finding_rule_list, name="finding_rule_list"),
    path("rules/<str:kind>/", views_rules.finding_rule_update, name="finding_rule_update"),
    path("<int:pk>/", views.finding_detail, name="finding_detail"),
    # <action>: acknowledge, resolve, suppress, reopen, assign.
    path("<int:pk>/<str:action>/", views.finding_update, name="finding_update"),
]
