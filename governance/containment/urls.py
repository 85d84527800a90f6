"""The revocation pages, included by governance/urls.py under governance/revocations/ (names in
the `containment` namespace: `containment:revocation_list`, `containment:revocation_create`)."""

from django.urls import path

from governance.containment import views

app_name = "containment"
urlpatterns = [
    path("", views.revocation_list, name="revocation_list"),
    # <action>: grant, identity_client, identity, client, bulk; the target is in the query string.
    path("new/<str:action>/", views.revocation_create, name="revocation_create"),
    path("<int:pk>/", views.revocation_detail, name="revocation_detail"),
    path("<int:pk>/undo/", views.revocation_undo, name="revocation_undo"),
]
