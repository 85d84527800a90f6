"""Inventory's pages, named `inventory:<model>_<action>` (`inventory:server_list`,
`inventory:client_document_diff`)."""

from django.urls import path

from inventory import views, views_detail, views_discovery, views_protocol
from inventory import views_discovery_fetch as fetch_views

app_name = "inventory"
urlpatterns = [
    path("identities/", views.identity_list, name="identity_list"),
    path("identities/<int:pk>/", views_detail.identity_detail, name="identity_detail"),
    path("clients/", views.client_list, name="client_list"),
    path("clients/<int:pk>/", views_detail.client_detail, name="client_detail"),
    path("clients/<int:pk>/review/", views_detail.client_review, name="client_review"),
    path("servers/", views.server_list, name="server_list"),
    path("servers/<int:pk>/", views_detail.server_detail, name="server_detail"),
    path("servers/<int:pk>/review/", views_detail.server_review, name="server_review"),
    path("grants/", views.grant_list, name="grant_list"),
    path("grants/export.csv", views.grant_export, name="grant_export"),
    path("grants/<int:pk>/", views_detail.grant_detail, name="grant_detail"),
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/<int:pk>/", views_detail.task_detail, name="task_detail"),
    path("flags/", views.flag_list, name="flag_list"),
    path("elicitations/", views.elicitation_list, name="url_elicitation_list"),
    path(
        "servers/<int:pk>/elicitation-origins/",
        views_protocol.elicitation_origin_add,
        name="elicitation_origin_allowance_create",
    ),
    path(
        "elicitation-origins/<int:pk>/delete/",
        views_protocol.elicitation_origin_remove,
        name="elicitation_origin_allowance_delete",
    ),
    path(
        "protocol/minimum-revision/",
        views_protocol.minimum_revision_set,
        name="site_setting_update",
    ),
    path("discovery/", views_discovery.crawl_list, name="crawl_list"),
    path("discovery/crawls/<int:pk>/", views_discovery.crawl_detail, name="crawl_detail"),
    path("discovery/registries/new/", views_discovery.registry_create, name="registry_create"),
    path(
        "discovery/registries/<int:pk>/edit/", views_discovery.registry_edit, name="registry_update"
    ),
    path(
        "discovery/registries/<int:pk>/toggle/",
        views_discovery.registry_toggle,
        name="registry_toggle",
    ),
    path("discovery/registries/<int:pk>/crawl/", views_discovery.crawl_start, name="crawl_start"),
    path(
        "servers/<int:pk>/registry-history/",
        views_discovery.server_registry_history,
        name="server_history",
    ),
    # Fetch log, CIMD documents, OAuth metadata (views_discovery_fetch).
    path("discovery/fetches/", fetch_views.fetch_log, name="fetch_record_list"),
    path("discovery/cimd/", fetch_views.cimd_client_list, name="client_document_list"),
    path("discovery/cimd/add/", fetch_views.cimd_client_add, name="client_document_create"),
    path("discovery/cimd/sweep/", fetch_views.cimd_sweep_start, name="client_document_crawl"),
    path("discovery/cimd/<int:pk>/", fetch_views.cimd_client_detail, name="client_document_detail"),
    path(
        "discovery/cimd/<int:pk>/panel/",
        fetch_views.cimd_client_panel,
        name="client_document_panel",
    ),
    path(
        "discovery/cimd/<int:pk>/refetch/",
        fetch_views.cimd_client_refetch,
        name="client_document_refetch",
    ),
    path(
        "discovery/cimd/versions/<int:pk>/diff/",
        fetch_views.cimd_document_diff,
        name="client_document_diff",
    ),
    path("discovery/oauth/", fetch_views.authserver_list, name="authorization_server_list"),
    path(
        "discovery/oauth/<int:pk>/",
        fetch_views.authserver_detail,
        name="authorization_server_detail",
    ),
    path(
        "discovery/oauth/crawl/", fetch_views.oauth_crawl_start, name="authorization_server_crawl"
    ),
    path(
        "discovery/oauth/remotes/<int:pk>/discover/",
        fetch_views.oauth_discover,
        name="server_remote_discover",
    ),
]
