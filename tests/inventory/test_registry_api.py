"""REST API for registries, crawls and registry history: roles, validation, admin records."""

import pytest
from django.utils import timezone

from governance.access.models import AdminAction
from inventory.models import Crawl, Registry
from inventory.services import crawls

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    ids = []
    monkeypatch.setattr(crawls, "enqueue", ids.append)
    return ids


def test_anonymous_api_calls_get_401():
    from django.test import Client

    assert Client().get("/api/v1/crawls/").status_code == 401


def test_a_viewer_lists_registries_and_crawls_but_cannot_add_a_registry(viewer_client):
    registry = Registry.objects.create(name="corp", base_url="https://r.corp.example")
    Crawl.objects.create(
        kind="registry",
        target=registry.base_url,
        registry=registry,
        status="failed",
        queued_at=timezone.now(),
    )
    assert viewer_client.get("/api/v1/registries/").json()["results"][0]["name"] == "corp"
    crawls_page = viewer_client.get("/api/v1/crawls/", {"status": "failed"}).json()
    assert crawls_page["count"] == 1
    assert viewer_client.post("/api/v1/registries/", {"name": "x"}).status_code == 403
    assert viewer_client.post(f"/api/v1/registries/{registry.pk}/crawl/").status_code == 403


def test_an_admin_adds_a_registry_through_the_api_and_it_is_recorded(admin_client_):
    response = admin_client_.post(
        "/api/v1/registries/",
        {
            "name": "official",
            "base_url": "https://registry.example.org/v0.1",
            "kind": "official",
            "crawl_interval_minutes": 60,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["base_url"] == "https://registry.example.org"
    assert AdminAction.objects.filter(action="registry.created").count() == 1


def test_a_bad_registry_gets_a_400_naming_the_field(admin_client_):
    response = admin_client_.post(
        "/api/v1/registries/",
        {"name": "x", "base_url": "ftp://r.example", "crawl_interval_minutes": 1},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert {"base_url", "crawl_interval_minutes"} <= response.json().keys()


def test_an_admin_starts_a_crawl_through_the_api(
    admin_client_, sent, django_capture_on_commit_callbacks
):
    registry = Registry.objects.create(name="corp", base_url="https://r.corp.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            f"/api/v1/registries/{registry.pk}/crawl/",
            {"full": True},
            content_type="application/json",
        )
    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["options"] == {"full": True}
    assert sent == [response.json()["id"]]


def test_the_browsable_api_links_a_registry_to_its_crawl_action(viewer_client):
    registry = Registry.objects.create(name="corp", base_url="https://registry.corp.example")
    page = viewer_client.get(f"/api/v1/registries/{registry.pk}/", HTTP_ACCEPT="text/html")
    html = page.content.decode()
    assert "Extra Actions" in html and f"/api/v1/registries/{registry.pk}/crawl/" in html
