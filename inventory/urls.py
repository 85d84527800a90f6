from django.urls import path

from inventory import views, views_discovery

app_name = "inventory"
urlpatterns = [
    path("identities/", views.identity_list, name="identity_list"),
    path("clients/", views.identity_list, name="client_list"),  # placeholder until built
    path("servers/", views.identity_list, name="server_list"),  # placeholder until built
    path("grants/", views.identity_list, name="grant_list"),  # placeholder until built
    path("tasks/", views.identity_list, name="task_list"),  # placeholder until built
    path("discovery/", views_discovery.crawl_list, name="crawl_list"),
    path("discovery/crawls/<int:pk>/", views_discovery.crawl_detail, name="crawl_detail"),
    path("discovery/registries/new/", views_discovery.registry_create, name="registry_create"),
    path("discovery/registries/<int:pk>/edit/", views_discovery.registry_edit,
         name="registry_edit"),
    path("discovery/registries/<int:pk>/toggle/", views_discovery.registry_toggle,
         name="registry_toggle"),
    path("discovery/registries/<int:pk>/crawl/", views_discovery.crawl_start, name="crawl_start"),
    path("servers/<int:pk>/registry-history/", views_discovery.server_registry_history,
         name="server_registry_history"),
]
