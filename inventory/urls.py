from django.urls import path

from inventory import views, views_detail

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
    path("grants/<int:pk>/", views_detail.grant_detail, name="grant_detail"),
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/<int:pk>/", views_detail.task_detail, name="task_detail"),
    path("flags/", views.flag_list, name="flag_list"),
    path("discovery/", views.identity_list, name="crawl_list"),  # placeholder until built
]
