"""Read-only inventory API: roles, the same filters as the pages, pagination, OpenAPI schema."""

import pytest
from django.core.management import call_command

from tests.ui_factories import client, grant, small_inventory

pytestmark = pytest.mark.django_db

ENDPOINTS = ["identities", "clients", "servers", "grants", "tasks", "registries", "flags"]


@pytest.mark.parametrize("who", ["viewer_client", "auditor_client", "admin_client_"])
def test_every_role_can_list_and_read_every_inventory_endpoint(request, who):
    api = request.getfixturevalue(who)
    small_inventory()
    for name in ENDPOINTS:
        response = api.get(f"/api/v1/{name}/")
        assert response.status_code == 200, name
        body = response.json()
        assert {"count", "results"} <= set(body)
        if body["results"]:
            one = api.get(f"/api/v1/{name}/{body['results'][0]['id']}/")
            assert one.status_code == 200 and one.json()["id"] == body["results"][0]["id"]


def test_a_user_without_a_role_gets_403_from_every_endpoint(nobody_client):
    for name in ENDPOINTS:
        assert nobody_client.get(f"/api/v1/{name}/").status_code == 403, name


def test_anonymous_api_calls_get_401(client):
    for name in ENDPOINTS:
        assert client.get(f"/api/v1/{name}/").status_code == 401, name


def test_the_api_is_read_only(admin_client_):
    inv = small_inventory()
    assert admin_client_.post("/api/v1/clients/", {"client_id": "x"}).status_code == 405
    assert admin_client_.delete(f"/api/v1/clients/{inv['cursor'].pk}/").status_code == 405


def test_api_lists_take_the_same_filters_as_the_pages(viewer_client):
    inv = small_inventory()
    ids = lambda url: [r["external_id"] for r in viewer_client.get(url).json()["results"]]  # noqa: E731
    assert ids("/api/v1/grants/?status=revoked") == ["g-bot"]
    assert ids(f"/api/v1/grants/?client={inv['m2m'].pk}") == ["g-m2m"]
    assert ids(f"/api/v1/grants/?subject={inv['alice'].pk}") == ["g-alice"]
    assert ids("/api/v1/grants/?grant_type=client_credentials") == ["g-m2m"]
    assert ids("/api/v1/grants/?q=cursor&sort=status") == ["g-alice", "g-bot"]
    tasks = viewer_client.get("/api/v1/tasks/?running=true").json()
    assert [t["task_id"] for t in tasks["results"]] == ["t-1"]
    clients = viewer_client.get("/api/v1/clients/?registration=client_credentials").json()
    assert [(c["name"], c["active_grants"]) for c in clients["results"]] == [("ETL loader", 0)]


def test_a_bad_api_filter_is_a_400_naming_the_parameter(viewer_client):
    response = viewer_client.get("/api/v1/tasks/?flagged=maybe&status=paused")
    assert response.status_code == 400
    assert "flagged" in response.json() or "status" in response.json()
    assert viewer_client.get("/api/v1/grants/?subject=me").json() == {
        "subject": ["'me' is not a numeric id"]
    }


def test_api_lists_are_paginated_with_limit_and_offset(viewer_client):
    c = client()
    for n in range(7):
        grant(f"g-{n}", client=c)
    page = viewer_client.get("/api/v1/grants/?limit=3&offset=3&sort=issued_at").json()
    assert page["count"] == 7 and [g["external_id"] for g in page["results"]] == [
        "g-3",
        "g-4",
        "g-5",
    ]
    assert "offset=6" in page["next"]


def test_the_openapi_schema_documents_the_inventory_endpoints_without_warnings(tmp_path, capsys):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out), "--fail-on-warn", "--validate")
    schema = out.read_text()
    for name in ENDPOINTS:
        assert f"/api/v1/{name}/:" in schema
    assert "name: running" in schema and "name: review_status" in schema
