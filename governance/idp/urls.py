"""The IdP connection pages, included by governance/urls_ui.py under governance/idp/ (names in
the `governance` namespace: `governance:idp_connection_list`, `governance:idp_sync_detail`)."""

from django.urls import path

from governance.idp import views

urlpatterns = [
    path("", views.connection_list, name="idp_connection_list"),
    path("new/", views.connection_create, name="idp_connection_create"),
    path("<int:pk>/", views.connection_detail, name="idp_connection_detail"),
    path("<int:pk>/edit/", views.connection_update, name="idp_connection_update"),
    path("<int:pk>/test/", views.connection_test, name="idp_connection_test"),
    path("<int:pk>/rotate/", views.connection_rotate, name="idp_connection_rotate"),
    path("<int:pk>/toggle/", views.connection_toggle, name="idp_connection_toggle"),
    path("<int:pk>/sync/", views.connection_sync, name="idp_connection_sync"),
    path("syncs/<int:pk>/", views.sync_detail, name="idp_sync_detail"),
]
