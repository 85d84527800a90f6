"""The governance app's pages (namespace `governance`): the overview, and the access pages."""

from django.urls import path

from governance.access import views as access_views
from governance.access import views_tokens
from governance.overview import views as overview_views

app_name = "governance"
urlpatterns = [
    path("", overview_views.overview, name="overview"),
    path("governance/", overview_views.governance_home, name="home"),
    path("governance/actions/", access_views.admin_action_list, name="adminaction_list"),
    path(
        "governance/actions/<int:pk>/", access_views.admin_action_detail, name="adminaction_detail"
    ),
    path("governance/users/", access_views.user_list, name="user_list"),
    path("governance/users/<int:pk>/role/", access_views.user_role_set, name="user_role"),
    path("governance/users/<int:pk>/unlock/", access_views.user_unlock, name="user_unlock"),
    path("governance/lockouts/unlock/", access_views.lockout_unlock, name="lockout_unlock"),
    path("governance/api-tokens/", views_tokens.token_list, name="api_token_list"),
    path(
        "governance/api-tokens/<int:pk>/revoke/", views_tokens.token_revoke, name="api_token_revoke"
    ),
]
