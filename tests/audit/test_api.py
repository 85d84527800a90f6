"""The audit REST API: roles, filters, cursor pages, payload only for Auditors."""

import pytest
from django.test import Client

from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from tests.api_rows import API_LISTS
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
    rest = viewer_client.get(
        "/api/v1/audit-events/", {"tool": "t0", "cursor": first["next"]}
    ).json()
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
    assert (
        admin_client_.post("/api/v1/audit-events/", {}, content_type="application/json").status_code
        == 405
    )
    for method in (admin_client_.put, admin_client_.patch, admin_client_.delete):
        assert method(url, {}, content_type="application/json").status_code == 405, method
    assert AuditEvent.objects.filter(pk=event.pk, type=event.type).exists()


@pytest.mark.parametrize("who", ["viewer_client", "auditor_client", "admin_client_"])
def test_format_suffix_urls_are_not_routes_and_format_json_still_works(request, who, stored):
    api = request.getfixturevalue(who)
    api.raise_request_exception = False
    event_id = api.get("/api/v1/audit-events/").json()["results"][0]["id"]
    for url in (
        "/api/v1/audit-events.json",
        f"/api/v1/audit-events/{event_id}.json",
        "/api/v1/audit-events.api",
        "/api/v1/grants.json",
        "/api/v1/grants/1.json",
    ):
        assert api.get(url).status_code == 404, url
    assert api.get("/api/v1/audit-events/?format=json").json()["results"]
    assert api.get(f"/api/v1/audit-events/{event_id}/?format=json").json()["id"] == event_id


def test_an_unknown_filter_is_a_400_naming_it_not_every_event(viewer_client, stored):
    response = viewer_client.get("/api/v1/audit-events/", {"session_id": "s-1"})
    assert response.status_code == 400
    assert list(response.json()) == ["session_id"]
    assert "session" in response.json()["session_id"][0]  # names what the list does take
    assert viewer_client.get("/api/v1/audit-events/", {"session": "s-none"}).json() == {
        "results": [],
        "next": None,
    }
    offset = viewer_client.get("/api/v1/audit-events/", {"offset": "5"})
    assert offset.status_code == 400 and list(offset.json()) == ["offset"]


def test_every_api_list_refuses_an_unknown_filter_after_checking_the_role(viewer, nobody):
    viewer_client, nobody_client = Client(), Client()
    viewer_client.force_login(viewer)
    nobody_client.force_login(nobody)
    for name in API_LISTS:
        if name == "event-sources":
            continue
        response = viewer_client.get(f"/api/v1/{name}/", {"sesion": "x"})
        assert response.status_code == 400 and list(response.json()) == ["sesion"], name
        assert nobody_client.get(f"/api/v1/{name}/", {"sesion": "x"}).status_code == 403, name


def test_a_malformed_source_or_id_is_a_400_on_the_api_and_the_explorer(viewer_client, stored):
    response = viewer_client.get("/api/v1/audit-events/", {"source": "\u00b2"})
    assert response.status_code == 400 and "source" in response.json()["detail"]
    assert viewer_client.get("/audit/", {"source": "\u00b2"}).status_code == 400
    for pk in ("\u00b2", "-5", str(2**63), "1" * 5000):  # no event has these ids
        assert viewer_client.get(f"/api/v1/audit-events/{pk}/").status_code == 404, pk[:10]


@pytest.mark.parametrize(
    "param, value",
    [
        ("since", "2026-08-01T11:25:38+18:34"),  # Python takes the offset, PostgreSQL did not: 500
        ("until", "2026-08-01T11:25:38-23:00"),
        ("since", "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
        ("until", "9999-12-31T23:59:59-01:00"),  # after year 9999 in UTC
    ],
)
def test_a_time_filter_postgresql_cannot_hold_is_a_400_or_normalised(
    auditor_client, stored, param, value
):
    api = auditor_client.get("/api/v1/audit-events/", {param: value})
    assert api.status_code in (200, 400), api.status_code
    if api.status_code == 400:
        assert api.json()["detail"].startswith(f"{param}:")
    assert auditor_client.get("/audit/", {param: value}).status_code == api.status_code
    export = auditor_client.get("/audit/export.ndjson", {param: value})
    assert export.status_code == api.status_code
    if export.status_code == 200:
        b"".join(export.streaming_content)  # the stream does not fail part-way


def test_the_schema_documents_the_event_list_as_one_page_object(viewer_client):
    schema = viewer_client.get("/api/v1/schema/?format=json").json()
    ok = schema["paths"]["/api/v1/audit-events/"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    page = schema["components"]["schemas"][ref]
    assert page["type"] == "object" and set(page["properties"]) == {"results", "next"}
    detail = schema["paths"]["/api/v1/audit-events/{id}/"]["get"]["responses"]["200"]
    ref = detail["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"received_at", "session_id", "payload"} <= set(
        schema["components"]["schemas"][ref]["properties"]
    )


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"2026-01-01T00:00:00+18:34|5", 200),  # PostgreSQL refused the offset: was a 500
        (b"0001-01-01T00:00:00+01:00|5", 400),  # before year 1 in UTC
        (b"2026-01-01T00:00:00+00:00|" + b"1" * 5000, 400),
    ],
)
def test_a_forged_cursor_is_read_like_a_since_or_refused(viewer_client, stored, raw, status):
    import base64

    forged = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = viewer_client.get("/api/v1/audit-events/", {"cursor": forged})
    assert response.status_code == status
    if status == 400:
        assert response.json()["detail"].startswith("cursor:")
    assert viewer_client.get("/audit/", {"cursor": forged}).status_code == status


def test_the_issuer_filter_selects_the_acting_identitys_issuer_on_api_page_and_export(
    auditor_client,
):
    source, _ = create_source(name="gw-issuers")
    okta = {"id": "00u-okta", "type": "human", "idp": "https://acme.okta.example"}
    entra = {"id": "00u-entra", "type": "human", "idp": "https://login.entra.example"}
    events = [make_event(actor=okta) for _ in range(2)] + [make_event(actor=entra)]
    ingest_events(source=source, events=events)
    params = {"issuer": "https://acme.okta.example"}
    api = auditor_client.get("/api/v1/audit-events/", params).json()["results"]
    assert [r["actor_subject"] for r in api] == ["00u-okta", "00u-okta"]
    page = auditor_client.get("/audit/", params).content.decode()
    assert "00u-okta" in page and "00u-entra" not in page
    export = b"".join(auditor_client.get("/audit/export.csv", params).streaming_content)
    assert export.count(b"00u-okta") == 2 and b"00u-entra" not in export


def test_an_issuer_filter_with_a_nul_is_a_400_naming_it_and_the_schema_lists_it(viewer_client):
    for url in ("/api/v1/audit-events/", "/audit/"):
        response = viewer_client.get(url, {"issuer": "a\x00b"})
        assert response.status_code == 400, url
        assert "Query parameter 'issuer' contains a NUL character." in response.content.decode()
    schema = viewer_client.get("/api/v1/schema/?format=json").json()
    params = schema["paths"]["/api/v1/audit-events/"]["get"]["parameters"]
    assert "issuer" in {p["name"] for p in params}
