from django.urls import path

from governance import views, views_tokens

app_name = "governance"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("governance/", views.governance_home, name="home"),
    path("governance/actions/", views.admin_action_list, name="adminaction_list"),
    path("governance/actions/<int:pk>/", views.admin_action_detail, name="adminaction_detail"),
    path("governance/users/", views.user_list, name="user_list"),
    path("governance/users/<int:pk>/role/", views.user_role_set, name="user_role"),
    path("governance/users/<int:pk>/unlock/", views.user_unlock, name="user_unlock"),
    path("governance/lockouts/unlock/", views.lockout_unlock, name="lockout_unlock"),
    path("governance/api-tokens/", views_tokens.token_list, name="api_token_list"),
    path(
        "governance/api-tokens/<int:pk>/revoke/", views_tokens.token_revoke, name="api_token_revoke"
    ),
]
