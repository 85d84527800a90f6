"""Governance's pages, named `governance:<model>_<action>`: the overview, the governance tools,
the account pages (login, company sign-in, logout, password), the health check; the IdP
connection pages come from governance/idp/urls.py."""

from django.urls import include, path

from governance.access import views as access_views
from governance.access import views_account, views_tokens
from governance.overview import views as overview_views
from governance.platform import health
from governance.sso import views as sso_views

app_name = "governance"
urlpatterns = [
    path("healthz", health.healthz, name="health_check"),
    path("accounts/login/", sso_views.LoginView.as_view(), name="account_login"),
    path("accounts/logout/", sso_views.sign_out, name="account_logout"),
    path("accounts/oidc/login/", sso_views.sign_in_start, name="sso_login"),
    path("accounts/oidc/callback/", sso_views.sign_in_callback, name="sso_callback"),
    path("accounts/password/", views_account.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        views_account.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("", overview_views.overview, name="overview"),
    path("governance/", overview_views.governance_home, name="home"),
    path("governance/actions/", access_views.admin_action_list, name="admin_action_list"),
    path(
        "governance/actions/<int:pk>/", access_views.admin_action_detail, name="admin_action_detail"
    ),
    path("governance/users/", access_views.user_list, name="user_list"),
    path("governance/users/<int:pk>/role/", access_views.user_role_set, name="user_role_update"),
    path("governance/users/<int:pk>/unlock/", access_views.user_unlock, name="user_unlock"),
    path("governance/lockouts/unlock/", access_views.lockout_unlock, name="lockout_unlock"),
    path("governance/api-tokens/", views_tokens.token_list, name="api_token_list"),
    path(
        "governance/api-tokens/<int:pk>/revoke/", views_tokens.token_revoke, name="api_token_revoke"
    ),
    path("governance/idp/", include("governance.idp.urls")),
]
