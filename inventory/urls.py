from django.urls import path

from inventory import views

app_name = "inventory"
urlpatterns = [
    path("identities/", views.identity_list, name="identity_list"),
    path("clients/", views.identity_list, name="client_list"),  # placeholder until built
    path("servers/", views.identity_list, name="server_list"),  # placeholder until built
    path("grants/", views.identity_list, name="grant_list"),  # placeholder until built
    path("tasks/", views.identity_list, name="task_list"),  # placeholder until built
    path("discovery/", views.identity_list, name="crawl_list"),  # placeholder until built
]
