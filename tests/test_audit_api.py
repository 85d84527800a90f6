"""The audit REST API: roles, filters, cursor pages, payload only for Auditors."""

import pytest

from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored():
    source, _ = create_source(name="gw-api")
    ingest_events(source=source, events=[make_event(tool=f"t{i % 2}") for i in range(5)])


def test_anonymous_api_calls_get_401(client):
    assert client.get("/api/v1/audit-events/").status_code == 401
    assert client.get("/api/v1/event-sources/").status_code == 401


def test_viewers_page_through_filtered_events_without_payloads(viewer_client, stored):
    first = viewer_client.get("/api/v1/audit-events/", {"tool": "t0", "limit": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    rest = viewer_client.get("/api/v1/audit-events/", {"tool": "t0", "cursor": first["next"]}).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    detail = viewer_client.get(f"/api/v1/audit-events/{first['results'][0]['id']}/").json()
    assert "payload" not in detail


def test_auditors_get_the_payload(auditor_client, stored):
    first = auditor_client.get("/api/v1/audit-events/").json()["results"][0]
    assert auditor_client.get(f"/api/v1/audit-events/{first['id']}/").json()["payload"]["type"]


def test_bad_filters_are_a_400(viewer_client):
    assert viewer_client.get("/api/v1/audit-events/", {"since": "x"}).status_code == 400
    assert viewer_client.get("/api/v1/audit-events/", {"limit": "x"}).status_code == 400


def test_event_sources_are_for_admins_and_never_show_tokens(viewer_client, admin_user, stored):
    assert viewer_client.get("/api/v1/event-sources/").status_code == 403
    viewer_client.force_login(admin_user)
    body = viewer_client.get("/api/v1/event-sources/").json()
    assert body["results"][0]["name"] == "gw-api" and "token_hash" not in body["results"][0]


def test_events_cannot_be_created_changed_or_deleted_through_the_api(admin_client_, stored):
    from audit.models import AuditEvent

    event = AuditEvent.objects.first()
    url = f"/api/v1/audit-events/{event.pk}/"
    assert admin_client_.get(url).status_code == 200
    assert admin_client_.post("/api/v1/audit-events/", {}, content_type="application/json") \
        .status_code == 405
    for method in (admin_client_.put, admin_client_.patch, admin_client_.delete):
        assert method(url, {}, content_type="application/json").status_code == 405, method
    assert AuditEvent.objects.filter(pk=event.pk, type=event.type).exists()
