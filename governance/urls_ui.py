"""Governance's pages, named `governance:<model>_<action>`: the overview, the governance tools,
the account pages (login, logout, password) and the health check."""

from django.contrib.auth import views as auth_views
from django.urls import path

from governance import views, views_account, views_tokens

app_name = "governance"
urlpatterns = [
    path("healthz", views.healthz, name="health_check"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="account_login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="account_logout"),
    path("accounts/password/", views_account.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        views_account.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("", views.overview, name="overview"),
    path("governance/", views.governance_home, name="home"),
    path("governance/actions/", views.admin_action_list, name="admin_action_list"),
    path("governance/actions/<int:pk>/", views.admin_action_detail, name="admin_action_detail"),
    path("governance/users/", views.user_list, name="user_list"),
    path("governance/users/<int:pk>/role/", views.user_role_set, name="user_role_update"),
    path("governance/users/<int:pk>/unlock/", views.user_unlock, name="user_unlock"),
    path("governance/lockouts/unlock/", views.lockout_unlock, name="lockout_unlock"),
    path("governance/api-tokens/", views_tokens.token_list, name="api_token_list"),
    path(
        "governance/api-tokens/<int:pk>/revoke/", views_tokens.token_revoke, name="api_token_revoke"
    ),
]
