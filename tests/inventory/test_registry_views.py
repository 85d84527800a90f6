"""Discovery pages: roles, registry admin with records, starting crawls, live progress, history."""

import itertools

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import has_vary_header

from governance.access.models import AdminAction
from inventory.models import Crawl, Registry, Server, ServerChange, ServerVersion
from inventory.services import crawls

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry():
    return Registry.objects.create(name="corp", base_url="https://registry.corp.example")


@pytest.fixture
def sent(monkeypatch):
    ids = []
    monkeypatch.setattr(crawls, "enqueue", ids.append)
    return ids


def test_a_viewer_sees_registries_and_crawl_history(viewer_client, registry):
    Crawl.objects.create(
        kind="registry",
        target=registry.base_url,
        registry=registry,
        status="done",
        records=42,
        queued_at=timezone.now(),
    )
    response = viewer_client.get(reverse("inventory:crawl_list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "corp" in body and "42 records" in body
    assert "Crawl now" not in body and "Add a registry" not in body


def test_anonymous_users_go_to_login_and_role_less_users_are_forbidden(nobody_client):
    from django.test import Client

    url = reverse("inventory:crawl_list")
    assert Client().get(url).status_code == 302
    assert nobody_client.get(url).status_code == 403


def test_crawl_history_filters_by_status_and_kind(viewer_client, registry):
    now = timezone.now()
    Crawl.objects.create(
        kind="registry", target="https://a.example", status="failed", queued_at=now
    )
    Crawl.objects.create(
        kind="cimd", target="https://client.example/c.json", status="done", queued_at=now
    )
    response = viewer_client.get(reverse("inventory:crawl_list"), {"status": "failed"})
    body = response.content.decode()
    assert "https://a.example" in body and "client.example" not in body
    fragment = viewer_client.get(
        reverse("inventory:crawl_list"),
        {"kind": "cimd"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="crawl-history",
    )
    assert "<h1>" not in fragment.content.decode()
    assert "client.example" in fragment.content.decode()
    # One URL, two bodies: a cache must not answer the page with the fragment or the reverse.
    for answer, header in itertools.product((response, fragment), ("HX-Request", "HX-Target")):
        assert has_vary_header(answer, header), header


def test_an_admin_adds_a_registry_and_it_is_recorded(admin_client_):
    response = admin_client_.post(
        reverse("inventory:registry_create"),
        {
            "name": "official",
            "base_url": "https://registry.example.org/v0.1/",
            "kind": "official",
            "enabled": "on",
            "crawl_interval_minutes": "60",
        },
    )
    assert response.status_code == 302
    registry = Registry.objects.get(name="official")
    assert registry.base_url == "https://registry.example.org"
    action = AdminAction.objects.get(action="registry.created")
    assert action.object_id == str(registry.pk) and action.after["base_url"] == registry.base_url


def test_a_bad_registry_form_names_the_field_and_is_not_a_500(admin_client_):
    response = admin_client_.post(
        reverse("inventory:registry_create"),
        {
            "name": "x",
            "base_url": "ftp://nope.example",
            "kind": "private",
            "crawl_interval_minutes": "1",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "base_url must be an http(s) URL" in body or "Enter a valid URL" in body
    assert "crawl_interval_minutes must be at least 5" in body
    assert not Registry.objects.exists()


def test_an_admin_disables_a_registry_and_the_change_is_recorded_with_before_and_after(
    admin_client_, registry
):
    admin_client_.post(reverse("inventory:registry_toggle", args=[registry.pk]))
    registry.refresh_from_db()
    assert registry.enabled is False
    action = AdminAction.objects.get(action="registry.disabled")
    assert action.before["enabled"] is True and action.after["enabled"] is False


def test_an_admin_edits_a_registry(admin_client_, registry):
    admin_client_.post(
        reverse("inventory:registry_update", args=[registry.pk]),
        {
            "name": "corp",
            "base_url": registry.base_url,
            "kind": "private",
            "enabled": "on",
            "crawl_interval_minutes": "120",
        },
    )
    registry.refresh_from_db()
    assert registry.crawl_interval_minutes == 120
    assert AdminAction.objects.filter(action="registry.updated").exists()


def test_viewers_and_auditors_cannot_change_registries_or_start_crawls(
    viewer_client, auditor_client, registry, sent
):
    for client in (viewer_client, auditor_client):
        assert client.post(reverse("inventory:crawl_start", args=[registry.pk])).status_code == 403
        assert (
            client.post(reverse("inventory:registry_toggle", args=[registry.pk])).status_code == 403
        )
        assert client.get(reverse("inventory:registry_create")).status_code == 403
    assert not Crawl.objects.exists() and sent == []


def test_an_admin_starts_a_crawl_and_lands_on_its_live_page(
    admin_client_, registry, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("inventory:crawl_start", args=[registry.pk]), {"full": "1"}
        )
    crawl = Crawl.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:crawl_detail", args=[crawl.pk])
    assert crawl.options == {"full": True} and sent == [crawl.pk]
    assert AdminAction.objects.filter(action="crawl.started", object_id=str(crawl.pk)).exists()


def test_starting_a_crawl_needs_a_post_with_csrf(registry, admin_user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(reverse("inventory:crawl_start", args=[registry.pk])).status_code == 403
    assert strict.get(reverse("inventory:crawl_start", args=[registry.pk])).status_code == 405


def test_a_running_crawl_page_polls_every_two_seconds_and_a_finished_one_stops(
    viewer_client, registry
):
    crawl = Crawl.objects.create(
        kind="registry",
        target=registry.base_url,
        registry=registry,
        status="running",
        pages=3,
        records=300,
        errors=1,
        queued_at=timezone.now(),
        started_at=timezone.now(),
        error_log=[{"at": "now", "message": "item 4 skipped: no name"}],
    )
    url = reverse("inventory:crawl_detail", args=[crawl.pk])
    page = viewer_client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in page and "item 4 skipped" in page
    fragment = viewer_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and "300" in fragment
    Crawl.objects.filter(pk=crawl.pk).update(status="done", finished_at=timezone.now())
    assert "every 2s" not in viewer_client.get(url, HTTP_HX_REQUEST="true").content.decode()


def test_an_htmx_history_restore_of_a_discovery_page_gets_the_full_page(viewer_client, registry):
    crawl = Crawl.objects.create(
        kind="registry",
        target=registry.base_url,
        registry=registry,
        status="running",
        queued_at=timezone.now(),
    )
    restore = {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}
    for url, target, shown in [
        (reverse("inventory:crawl_list"), "crawl-history", registry.base_url),
        (reverse("inventory:crawl_detail", args=[crawl.pk]), "crawl-progress", "every 2s"),
    ]:
        page = viewer_client.get(url, **restore, HTTP_HX_TARGET=target).content.decode()
        assert "<html" in page and "<h1>" in page and shown in page, url
        fragment = viewer_client.get(
            url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET=target
        ).content.decode()
        assert "<html" not in fragment and "<h1>" not in fragment and shown in fragment, url


def _server_with_history(registry):
    now = timezone.now()
    server = Server.objects.create(name="io.github.acme/crm", first_seen=now, last_seen=now)
    ServerVersion.objects.create(
        server=server,
        registry=registry,
        version="1.4.0",
        is_latest=True,
        status="deprecated",
        first_seen=now,
        last_seen=now,
        problems=[
            {
                "code": "non_https_remote",
                "severity": "high",
                "path": "remotes.0.url",
                "message": "not HTTPS",
            }
        ],
    )
    ServerChange.objects.create(
        server=server,
        registry=registry,
        registry_name="corp",
        version="1.4.0",
        field="status",
        old_value="active",
        new_value="deprecated",
        observed_at=now,
    )
    return server


def test_a_servers_registry_history_fragment_shows_versions_problems_and_changes(
    viewer_client, registry
):
    server = _server_with_history(registry)
    body = viewer_client.get(reverse("inventory:server_history", args=[server.pk]))
    text = body.content.decode()
    assert "1.4.0" in text and "non_https_remote" in text and "deprecated" in text
    assert "<html" not in text


def test_the_registry_history_template_tag_renders_the_same_fragment(registry):
    server = _server_with_history(registry)
    html = Template("{% load registry_history %}{% server_registry_history server %}").render(
        Context({"server": server})
    )
    assert "non_https_remote" in html and "Registry history" in html
