"""The alert destination pages, included by governance/urls.py under governance/alerts/ (names
in the `alerts` namespace: `alerts:destination_list`, `alerts:dead_letter_list`)."""

from django.urls import path

from governance.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.destination_list, name="destination_list"),
    path("new/", views.destination_create, name="destination_create"),
    path("<int:pk>/", views.destination_detail, name="destination_detail"),
    path("<int:pk>/edit/", views.destination_update, name="destination_update"),
    path("<int:pk>/delete/", views.destination_delete, name="destination_delete"),
    path("<int:pk>/test/", views.destination_test, name="destination_test"),
    path("dead-letters/", views.dead_letter_list, name="dead_letter_list"),
    path("dead-letters/replay/", views.dead_letter_replay, name="dead_letter_replay"),
]
