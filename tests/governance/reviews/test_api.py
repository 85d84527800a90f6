"""The review-campaigns and review-items API: Admins open and close, reviewers decide (one item
or a filtered set), bad input is a 400 naming the field, and a closed campaign answers its
frozen record and digest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from governance.reviews import queries, services
from governance.reviews.models import Campaign
from tests.governance.reviews.conftest import open_named

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_an_admin_opens_a_campaign_and_bad_input_names_the_field(estate, admin_user, viewer):
    body = {
        "name": "API review",
        "scope": {"unused_days": 90},
        "reviewer_rule": "named",
        "reviewers": ["nico-named"],
        "due_at": (timezone.now() + timedelta(days=7)).isoformat(),
        "remind_days_before": [3],
    }
    assert api(viewer).post("/api/v1/review-campaigns/", body, format="json").status_code == 403

    opened = api(admin_user).post("/api/v1/review-campaigns/", body, format="json")
    assert opened.status_code == 201, opened.json()
    assert opened.json()["progress"]["total"] == 1  # g-idle, unused 120 days
    assert opened.json()["reviewers"] == ["nico-named"]

    for change, field in [
        ({"scope": {"client_ids": ["x"]}}, "client_ids"),
        ({"scope": {"colour": "red"}}, "scope"),
        ({"reviewers": ["nobody-here"]}, "reviewers"),
        ({"due_at": "2001-01-01T00:00:00Z"}, "due_at"),
        ({"reviewer_rule": "astrology"}, "reviewer_rule"),
    ]:
        refused = api(admin_user).post("/api/v1/review-campaigns/", body | change, format="json")
        assert refused.status_code == 400 and field in refused.json(), (change, refused.json())


def test_items_are_filtered_as_the_queue_and_unknown_parameters_are_refused(
    estate, admin_user, viewer
):
    campaign = open_named(admin_user, [estate.other])
    answer = api(viewer).get(
        f"/api/v1/review-campaigns/{campaign.pk}/items/", {"recommendation": "revoke"}
    )
    assert answer.status_code == 200
    assert {i["context"]["grant"]["external_id"] for i in answer.json()["results"]} == {
        "g-idle",
        "g-disabled",
    }
    mine = api(estate.other).get("/api/v1/review-items/", {"mine": "true", "sort": "-unused_days"})
    assert [i["context"]["grant"]["external_id"] for i in mine.json()["results"]][0] == "g-idle"
    assert api(viewer).get("/api/v1/review-items/", {"reviewr": "1"}).status_code == 400
    assert api(viewer).get("/api/v1/review-items/", {"decision": "maybe"}).status_code == 400
    items = f"/api/v1/review-campaigns/{campaign.pk}/items/"
    assert api(viewer).get(items, {"format": "json"}).status_code == 200  # as on every list
    assert api(viewer).get(items, {"recomendation": "revoke"}).status_code == 400


def test_the_reviewer_decides_through_the_api(estate, admin_user):
    campaign = open_named(admin_user, [estate.other])
    idle = campaign.items.get(grant=estate.idle)
    url = f"/api/v1/review-items/{idle.pk}/decide/"

    assert api(estate.owner).post(url, {"decision": "revoke"}, format="json").status_code == 403
    refused = api(estate.other).post(url, {"decision": "keep"}, format="json")
    assert refused.status_code == 400 and "justification" in refused.json()
    reduced = api(estate.other).post(
        url, {"decision": "reduce", "keep_scopes": ["crm:read"]}, format="json"
    )
    assert reduced.status_code == 400 and "keep_scopes" in reduced.json()  # crm:read is all
    decided = api(estate.other).post(url, {"decision": "revoke"}, format="json")
    assert decided.status_code == 200 and decided.json()["decision"] == "revoke"


def test_bulk_decide_takes_a_filter_and_refuses_an_empty_one(estate, admin_user):
    campaign = open_named(admin_user, [estate.other])
    url = "/api/v1/review-items/bulk-decide/"
    nico = api(estate.other)

    assert nico.post(url, {"decision": "revoke"}, format="json").status_code == 400
    bad = nico.post(url, {"decision": "revoke", "filter": {"colour": "red"}}, format="json")
    assert bad.status_code == 400 and "filter" in bad.json()
    done = nico.post(
        url,
        {"decision": "keep", "justification": "", "filter": {"recommendation": "keep"}},
        format="json",
    )
    assert done.status_code == 200 and done.json() == {"decided": 2}
    assert queries.decision_counts(campaign)["keep"] == 2


def test_closing_through_the_api_then_the_record_and_its_digest(estate, admin_user, viewer):
    campaign = open_named(admin_user, [estate.other])
    closing = api(admin_user).post(f"/api/v1/review-campaigns/{campaign.pk}/close/")
    assert closing.status_code == 202 and closing.json()["status"] == "closing"
    again = api(admin_user).post(f"/api/v1/review-campaigns/{campaign.pk}/close/")
    assert again.status_code == 400 and "campaign" in again.json()

    services.finish_closing(campaign.pk)
    detail = api(viewer).get(f"/api/v1/review-campaigns/{campaign.pk}/").json()
    assert detail["status"] == "closed"
    assert detail["record_sha256"] == Campaign.objects.get(pk=campaign.pk).record_sha256
    assert len(detail["record"]["items"]) == 4
