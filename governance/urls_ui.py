from django.urls import path

from governance import views

app_name = "governance"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("governance/", views.governance_home, name="home"),
    path("governance/actions/", views.admin_action_list, name="adminaction_list"),
]
