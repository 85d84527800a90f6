"""Audit pages: explorer filters and keyset pages, detail by role, exports, verify, sources."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent, ChainVerification, EventSource
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from audit.source_auth import hash_token
from governance.access.models import AdminAction
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_user():
    """A separate logged-in client per user (the role fixtures share one `client`)."""
    from django.test import Client

    def login(user):
        new = Client()
        new.force_login(user)
        return new

    return login


@pytest.fixture
def stored():
    source, _ = create_source(name="gw-pages")
    events = [make_event(tool=f"tool-{i % 3}", attributes={"n": i}) for i in range(7)]
    events.append(
        make_event(
            tool='=HYPERLINK("x")', outcome="denied", attributes={"note": "needle-in-haystack"}
        )
    )
    ingest_events(source=source, events=events)
    return source, events


def test_anonymous_users_go_to_login(client):
    assert client.get("/audit/").status_code == 302
    assert client.get("/audit/sources/").status_code == 302


def test_users_without_a_role_get_403(nobody_client):
    assert nobody_client.get("/audit/").status_code == 403
    assert nobody_client.get("/audit/export.csv").status_code == 403


def test_the_explorer_filters_by_field_and_by_free_text(viewer_client, stored):
    page = viewer_client.get("/audit/", {"tool": "tool-1"}).content.decode()
    assert page.count("tool-1</td>") == 2 and "tool-2</td>" not in page
    page = viewer_client.get("/audit/", {"q": "needle-in-haystack"}).content.decode()
    assert "denied" in page and "tool-0</td>" not in page


def test_keyset_pages_walk_every_event_once(stored):
    from audit import queries_explorer

    seen, cursor = [], None
    while True:
        rows, cursor = queries_explorer.events_page(
            queries_explorer.EventFilter(), cursor=cursor, size=3
        )
        seen += [r["event_id"] for r in rows]
        if not cursor:
            break
    assert sorted(seen) == sorted(e["id"] for e in stored[1]) and len(seen) == 8


def test_the_next_page_comes_as_an_htmx_fragment(viewer_client, stored):
    from audit import queries_explorer

    _, cursor = queries_explorer.events_page(queries_explorer.EventFilter(), size=3)
    response = viewer_client.get("/audit/", {"cursor": cursor}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"<h1>" not in response.content
    assert response.content.count(b"<tr>") >= 3


def test_an_htmx_history_restore_of_a_later_page_gets_the_whole_page(viewer_client, stored):
    from audit import queries_explorer

    _, cursor = queries_explorer.events_page(queries_explorer.EventFilter(), size=3)
    response = viewer_client.get(
        "/audit/",
        {"cursor": cursor},
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert response.status_code == 200 and b"<html" in response.content


def test_a_bad_filter_is_a_400_naming_the_parameter(viewer_client):
    response = viewer_client.get("/audit/", {"since": "last tuesday"})
    assert response.status_code == 400 and b"since: not an ISO 8601" in response.content
    assert viewer_client.get("/audit/", {"cursor": "%%%"}).status_code == 400


def test_the_payload_is_shown_to_auditors_not_viewers(as_user, viewer, auditor, stored):
    viewer_client, auditor_client = as_user(viewer), as_user(auditor)
    event = AuditEvent.objects.filter(tool="tool-0").first()
    url = reverse("audit:event_detail", args=[event.pk]) + f"?at={event.time.isoformat()}"
    response = viewer_client.get(url)
    assert response.status_code == 200 and b"Payload" not in response.content
    assert b"Payload" in auditor_client.get(url).content


def test_csv_export_streams_the_filtered_set_and_defuses_formulas(auditor_client, stored):
    response = auditor_client.get("/audit/export.csv", {"outcome": "denied"})
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert lines[0].startswith("time,source_id,event_id") and len(lines) == 2
    assert "'=HYPERLINK" in lines[1]


def test_exports_are_for_auditors_and_the_ndjson_one_carries_payloads(
    as_user, viewer, auditor, stored
):
    viewer_client, auditor_client = as_user(viewer), as_user(auditor)
    for fmt in ("csv", "ndjson"):
        assert viewer_client.get(f"/audit/export.{fmt}").status_code == 403, fmt
    assert b"export." not in viewer_client.get("/audit/").content  # no link a Viewer can't use
    auditor_body = b"".join(auditor_client.get("/audit/export.ndjson").streaming_content)
    assert len(auditor_body.splitlines()) == 8 and b"needle-in-haystack" in auditor_body


def test_auditors_can_verify_the_chain_from_the_page_and_see_the_result(
    as_user, viewer, auditor, stored, django_capture_on_commit_callbacks
):
    viewer_client, auditor_client = as_user(viewer), as_user(auditor)
    assert viewer_client.post("/audit/verify/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        auditor_client.post("/audit/verify/")
    assert ChainVerification.objects.get().ok
    assert b"intact" in auditor_client.get("/audit/").content


def test_the_audit_page_shows_the_latest_verification_not_an_earlier_one(viewer_client):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    # The newest run is stored first: the page must go by time, not by insertion order.
    ChainVerification.objects.create(
        started_at=now, finished_at=now, ok=False, problem="batch 7 (#7): 1 event(s) deleted"
    )
    earlier = now - timedelta(hours=1)
    ChainVerification.objects.create(started_at=earlier, finished_at=earlier, ok=True)
    page = viewer_client.get("/audit/").content.decode()
    assert "BROKEN" in page and "batch 7 (#7): 1 event(s) deleted" in page
    assert "intact" not in page


def test_admins_register_a_source_and_see_its_token_once(as_user, admin_user, viewer):
    admin_client_, viewer_client = as_user(admin_user), as_user(viewer)
    assert viewer_client.get("/audit/sources/").status_code == 403
    response = admin_client_.post(
        "/audit/sources/",
        {"name": "edge-gw", "kind": "gateway", "retention_days": 30, "rate_limit_per_minute": 0},
    )
    token = response.content.decode().split('<pre class="token">')[1].split("</pre>")[0]
    source = EventSource.objects.get(name="edge-gw")
    assert source.token_hash == hash_token(token) and token not in source.token_hash
    assert response["Cache-Control"] == "no-store"
    assert token.encode() not in admin_client_.get("/audit/sources/").content
    assert AdminAction.objects.filter(action="eventsource.created").exists()


def test_admins_rotate_disable_and_retune_a_source_with_admin_actions(admin_client_):
    source, old = create_source(name="gw-admin")
    admin_client_.post(f"/audit/sources/{source.pk}/rotate/")
    admin_client_.post(f"/audit/sources/{source.pk}/disable/")
    admin_client_.post(
        f"/audit/sources/{source.pk}/settings/",
        {"retention_days": 400, "rate_limit_per_minute": 60},
    )
    source.refresh_from_db()
    assert source.token_hash != hash_token(old) and not source.enabled
    assert (source.retention_days, source.rate_limit_per_minute) == (400, 60)
    assert set(AdminAction.objects.values_list("action", flat=True)) >= {
        "eventsource.token_rotated",
        "eventsource.disabled",
        "eventsource.updated",
    }
