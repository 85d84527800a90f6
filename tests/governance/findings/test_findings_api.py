"""The findings API: the list takes the page's filters (an unknown one is a 400), a finding
comes with its history, Admins triage with POST actions and the bulk endpoint, Viewers get 403,
and API tokens need the admin scope to act."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from governance.access import api_tokens
from inventory.models import Finding

pytestmark = pytest.mark.django_db
API = "/api/v1/findings/"


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_login(admin_user)
    return client


def test_the_list_takes_the_pages_filters_and_refuses_unknown_ones(api, raise_finding):
    raise_finding(severity="critical", summary="worst")
    raise_finding(kind="grant.dormant", severity="info", summary="mild")
    rows = api.get(API).json()["results"]
    assert [r["summary"] for r in rows] == ["worst", "mild"]  # most severe first
    assert [r["summary"] for r in api.get(API, {"sort": "severity"}).json()["results"]] == [
        "mild",
        "worst",
    ]
    assert api.get(API, {"kind": "grant.dormant"}).json()["count"] == 1
    assert api.get(API, {"serverity": "high"}).status_code == 400
    bad = api.get(API, {"last_seen_after": "yesterday"})
    assert bad.status_code == 400 and "last_seen_after" in bad.json()


def test_actions_answer_the_finding_with_its_history(api, raise_finding):
    finding = raise_finding()
    answer = api.post(f"{API}{finding.pk}/acknowledge/", {"note": "on it"}, format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "acknowledged"
    assert [(h["actor"], h["action"], h["note"]) for h in body["history"]] == [
        ("rule", "opened", ""),
        ("ada-admin", "acknowledged", "on it"),
    ]
    until = (timezone.now() + timedelta(days=1)).isoformat()
    suppressed = api.post(
        f"{API}{finding.pk}/suppress/", {"until": until, "reason": "change freeze"}, format="json"
    )
    assert suppressed.json()["status"] == "suppressed"
    assigned = api.post(f"{API}{finding.pk}/assign/", {"assignee": "ada-admin"}, format="json")
    assert assigned.json()["assignee"] == "ada-admin"
    assert api.get(f"{API}{finding.pk}/").json()["history"][-1]["action"] == "assigned"


def test_bad_input_and_actions_that_do_not_apply_are_400s_naming_the_field(api, raise_finding):
    finding = raise_finding()
    past = (timezone.now() - timedelta(days=1)).isoformat()
    late = api.post(f"{API}{finding.pk}/suppress/", {"until": past, "reason": "x"}, format="json")
    assert late.status_code == 400 and "until" in late.json()
    assert "reason" in api.post(f"{API}{finding.pk}/suppress/", {}, format="json").json()
    reopen = api.post(f"{API}{finding.pk}/reopen/", {}, format="json")
    assert reopen.status_code == 400 and "status" in reopen.json()
    nobody = api.post(f"{API}{finding.pk}/assign/", {"assignee": "ghost"}, format="json")
    assert nobody.status_code == 400 and "assignee" in nobody.json()
    assert api.post(f"{API}999999/resolve/", {}, format="json").status_code == 404


def test_bulk_counts_what_it_changed_and_skipped(api, raise_finding, admin_user):
    one, two = raise_finding(dedup_key="a"), raise_finding(dedup_key="b")
    answer = api.post(
        f"{API}bulk/", {"action": "resolve", "ids": [one.pk, two.pk, 424242]}, format="json"
    )
    assert answer.json() == {"action": "resolve", "done": 2, "skipped": 1}
    assert set(Finding.objects.values_list("status", flat=True)) == {"resolved"}
    unassign_by_accident = api.post(
        f"{API}bulk/", {"action": "assign", "ids": [one.pk]}, format="json"
    )
    assert unassign_by_accident.status_code == 400 and "assignee" in unassign_by_accident.json()
    assert (
        api.post(f"{API}bulk/", {"action": "resolve", "ids": []}, format="json").status_code == 400
    )


def test_viewers_read_and_cannot_act_and_a_read_token_cannot_act(viewer, admin_user, raise_finding):
    finding = raise_finding()
    client = APIClient()
    client.force_login(viewer)
    assert client.get(API).status_code == 200
    assert client.post(f"{API}{finding.pk}/acknowledge/", {}, format="json").status_code == 403
    _, read_token = api_tokens.create_token(actor=admin_user, name="ro", scope="read")
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {read_token}")
    assert reader.get(f"{API}{finding.pk}/").status_code == 200
    assert reader.post(f"{API}{finding.pk}/resolve/", {}, format="json").status_code == 403
    finding.refresh_from_db()
    assert finding.status == "open"
