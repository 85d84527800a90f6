"""The access-review pages, included by governance/urls.py under governance/reviews/ (names in
the `reviews` namespace: `reviews:campaign_list`, `reviews:review_item_list`)."""

from django.urls import path

from governance.reviews import views

app_name = "reviews"
urlpatterns = [
    path("", views.campaign_list, name="campaign_list"),
    path("new/", views.campaign_create, name="campaign_create"),
    path("mine/", views.review_item_list, name="review_item_list"),
    path("mine/decide/", views.review_item_bulk_decide, name="review_item_bulk_decide"),
    path("items/<int:pk>/decide/", views.review_item_decide, name="review_item_decide"),
    path("<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("<int:pk>/close/", views.campaign_close, name="campaign_close"),
    path("<int:pk>/record/", views.campaign_record, name="campaign_record"),
    path("<int:pk>/record.json", views.campaign_export, name="campaign_export"),
]
