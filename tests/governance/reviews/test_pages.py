"""The access-review pages as their users rely on them: an Admin opens a campaign from the form,
a reviewer decides in "My reviews" (one row, or the filtered set at once), the campaign page and
the overview show progress, and a closed campaign's record can be read and downloaded."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from governance.reviews import services
from governance.reviews.models import Campaign, ReviewItem
from tests.governance.reviews.conftest import open_named

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_campaigns_page_says_what_to_do_when_there_is_none(admin_user, viewer):
    admin_page = logged_in(admin_user).get("/governance/reviews/").content.decode()
    viewer_client = logged_in(viewer)
    viewer_page = viewer_client.get("/governance/reviews/").content.decode()
    assert "No access reviews yet." in admin_page and "New campaign" in admin_page
    assert "An Admin opens a campaign" in viewer_page and "New campaign</a>" not in viewer_page
    mine = viewer_client.get("/governance/reviews/mine/").content.decode()
    assert "Nothing to review." in mine


def test_an_admin_opens_a_campaign_from_the_form(estate, admin_client_):
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    answer = admin_client_.post(
        "/governance/reviews/new/",
        {
            "name": "Cursor review",
            "clients": [estate.cursor.pk],
            "reviewer_rule": "client_owner",
            "fallback_reviewer": estate.other.pk,
            "due_date": due,
            "remind_days_before": "7, 1",
        },
    )
    campaign = Campaign.objects.get()
    assert answer.status_code == 302 and answer.url == f"/governance/reviews/{campaign.pk}/"
    assert campaign.items.count() == 3 and campaign.remind_days_before == [7, 1]
    assert set(campaign.items.values_list("reviewer__username", flat=True)) == {"olga-owner"}


def test_the_form_names_the_field_a_campaign_is_refused_for(estate, admin_client_):
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    answer = admin_client_.post(
        "/governance/reviews/new/",
        {"name": "Empty", "scopes": "no:such", "reviewer_rule": "named", "due_date": due},
    )
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "Named reviewers: name at least one reviewer" in page
    assert not Campaign.objects.exists()


def test_a_reviewer_decides_a_row_in_place_and_is_told_what_is_missing(estate, admin_user):
    campaign = open_named(admin_user, [estate.other])
    idle = campaign.items.get(grant=estate.idle)
    nico = logged_in(estate.other)

    queue = nico.get("/governance/reviews/mine/").content.decode()
    assert "Not used for 120 days (≥ 90)." in queue and "crm:write" in queue and "Alice" in queue

    refused = nico.post(
        f"/governance/reviews/items/{idle.pk}/decide/", {"decision": "keep"}, HTTP_HX_REQUEST="true"
    )
    # The row again, with the error under it (htmx swaps a 200 only).
    assert refused.status_code == 200
    assert "Justification: the console recommends revoking" in refused.content.decode()
    assert ReviewItem.objects.get(pk=idle.pk).decision == ""
    without_js = nico.post(f"/governance/reviews/items/{idle.pk}/decide/", {"decision": "keep"})
    assert without_js.status_code == 302 and without_js.url == "/governance/reviews/mine/"

    kept = nico.post(
        f"/governance/reviews/items/{idle.pk}/decide/",
        {"decision": "keep", "justification": "month-end batch"},
        HTTP_HX_REQUEST="true",
    )
    assert kept.status_code == 200 and f'id="item-{idle.pk}"' in kept.content.decode()
    assert ReviewItem.objects.get(pk=idle.pk).justification == "month-end batch"


def test_someone_elses_item_cannot_be_decided(estate, admin_user):
    campaign = open_named(admin_user, [estate.other])
    item = campaign.items.first()
    answer = logged_in(estate.owner).post(
        f"/governance/reviews/items/{item.pk}/decide/", {"decision": "revoke"}
    )
    assert answer.status_code == 403
    assert ReviewItem.objects.get(pk=item.pk).decision == ""


def test_a_bulk_decision_applies_to_the_filtered_queue(estate, admin_user):
    campaign = open_named(admin_user, [estate.other])
    nico = logged_in(estate.other)

    answer = nico.post(
        "/governance/reviews/mine/decide/",
        {"filter_query": "recommendation=revoke", "decision": "revoke"},
    )

    assert answer.status_code == 302 and answer.url.endswith("?recommendation=revoke")
    decided = dict(campaign.items.values_list("context__grant__external_id", "decision"))
    assert decided == {"g-idle": "revoke", "g-disabled": "revoke", "g-fresh": "", "g-noted": ""}


def test_the_campaign_page_and_the_overview_show_progress(estate, admin_user, viewer_client):
    campaign = open_named(admin_user, [estate.other], due_at=timezone.now() + timedelta(days=3))
    services.decide(item=campaign.items.get(grant=estate.fresh), by=estate.other, decision="keep")

    page = viewer_client.get(f"/governance/reviews/{campaign.pk}/").content.decode()
    assert "1 of 4</strong> decided (25%)" in page
    assert "nico-named" in page and "Close campaign" not in page  # a Viewer cannot close
    overview = viewer_client.get("/").content.decode()
    assert "Access reviews in progress" in overview and "Q4 review" in overview


def test_closing_asks_first_and_the_record_can_be_read_and_downloaded(
    estate, admin_user, auditor, viewer
):
    admin_client_, auditor_client, viewer_client = map(logged_in, (admin_user, auditor, viewer))
    campaign = open_named(admin_user, [estate.other])
    services.decide(item=campaign.items.get(grant=estate.fresh), by=estate.other, decision="keep")

    confirm = admin_client_.get(f"/governance/reviews/{campaign.pk}/close/").content.decode()
    assert "3 items not decided" in confirm
    closed = admin_client_.post(f"/governance/reviews/{campaign.pk}/close/")
    assert closed.status_code == 302
    assert services.finish_closing(campaign.pk)  # nothing to revoke: closes at once
    campaign.refresh_from_db()

    record_page = viewer_client.get(f"/governance/reviews/{campaign.pk}/record/").content.decode()
    assert campaign.record_sha256 in record_page and "matches the record" in record_page
    download = auditor_client.get(f"/governance/reviews/{campaign.pk}/record.json")
    assert hashlib.sha256(download.content).hexdigest() == campaign.record_sha256
    assert viewer_client.get(f"/governance/reviews/{campaign.pk}/record.json").status_code == 403
