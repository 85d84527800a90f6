"""The discovery-fetch pages: fetch log, CIMD clients, versions and diffs, authorization servers."""

from datetime import timedelta

import pytest
from django.test import Client as DjangoClient
from django.urls import reverse
from django.utils import timezone

from governance.access.models import AdminAction
from inventory.models import (
    AuthorizationServer,
    Client,
    ClientDocument,
    ClientDocumentState,
    FetchRecord,
)
from inventory.services import cimd as svc
from inventory.services.flags import raise_flag, resolve_open_flags
from tests.fetch_server import Route

PAGES = [
    "inventory:fetch_record_list",
    "inventory:client_document_list",
    "inventory:authorization_server_list",
]


def doc(url, redirects):
    return {"client_id": url, "client_name": "Acme Agent", "redirect_uris": redirects}


def log(**fields):
    return FetchRecord.objects.create(at=timezone.now(), purpose="cimd", **fields)


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_pages_need_login_and_a_role(nobody_client, name):
    assert DjangoClient().get(reverse(name)).status_code == 302
    assert nobody_client.get(reverse(name)).status_code == 403


@pytest.mark.django_db
def test_the_fetch_log_filters_by_outcome_and_reason_and_serves_a_partial_to_htmx(viewer_client):
    log(url="https://ok.example/c.json", ok=True, status_code=200, bytes=10)
    log(
        url="https://inside.example/c.json",
        error_reason="blocked_address",
        error_message="resolves to 10.0.0.1",
    )
    log(url="https://slow.example/c.json", error_reason="timeout")
    page = viewer_client.get(reverse("inventory:fetch_record_list"), {"reason": "blocked_address"})
    body = page.content.decode()
    assert "inside.example" in body and "slow.example" not in body and "ok.example" not in body
    ok_only = viewer_client.get(
        reverse("inventory:fetch_record_list"), {"outcome": "ok"}
    ).content.decode()
    assert "ok.example" in ok_only and "inside.example" not in ok_only
    partial = viewer_client.get(reverse("inventory:fetch_record_list"), HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"slow.example" in partial.content


@pytest.mark.django_db
def test_an_htmx_history_restore_of_the_fetch_log_gets_the_full_page(viewer_client):
    log(url="https://ok.example/c.json", ok=True, status_code=200, bytes=10)
    url = reverse("inventory:fetch_record_list")
    restore = viewer_client.get(
        url, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    ).content.decode()
    assert "<html" in restore and "<h1>Fetch log</h1>" in restore and "ok.example" in restore
    partial = viewer_client.get(url, HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"ok.example" in partial.content
    assert "HX-Request" in partial["Vary"]


@pytest.mark.django_db
def test_viewers_cannot_add_client_urls_or_refetch(viewer_client):
    now = timezone.now()
    existing = Client.objects.create(
        client_id="https://a.example/c.json", first_seen=now, last_seen=now
    )
    assert (
        viewer_client.post(
            reverse("inventory:client_document_create"), {"url": "https://x.example/c.json"}
        ).status_code
        == 403
    )
    assert (
        viewer_client.post(
            reverse("inventory:client_document_refetch", args=[existing.pk])
        ).status_code
        == 403
    )
    assert not Client.objects.filter(client_id="https://x.example/c.json").exists()


@pytest.mark.django_db
def test_adding_a_malformed_client_url_is_a_400_naming_the_field(admin_client_):
    response = admin_client_.post(
        reverse("inventory:client_document_create"), {"url": "https://app.example/#frag"}
    )
    assert response.status_code == 400
    assert b"url: the client_id URL must contain a path" in response.content
    assert not Client.objects.exists() and not AdminAction.objects.exists()


@pytest.mark.django_db
def test_an_admin_adds_a_client_url_which_is_fetched_recorded_and_shown(
    admin_client_, local_server
):
    url = local_server.url("/oauth/client.json")
    local_server.routes["/oauth/client.json"] = Route(body=doc(url, ["https://agent.example/cb"]))
    response = admin_client_.post(reverse("inventory:client_document_create"), {"url": url})
    client = Client.objects.get(client_id=url)
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:client_document_detail", args=[client.pk])
    assert AdminAction.objects.get().action == "client.cimd_added"
    assert client.cimd_documents.count() == 1
    detail = admin_client_.get(response["Location"]).content.decode()
    assert "Acme Agent" in detail and "https://agent.example/cb" in detail


@pytest.mark.django_db
def test_the_diff_page_shows_field_changes_and_a_text_diff(admin_client_, local_server):
    url = local_server.url("/oauth/client.json")
    local_server.routes["/oauth/client.json"] = Route(body=doc(url, ["https://agent.example/cb"]))
    svc.refresh_client_document(url)
    local_server.routes["/oauth/client.json"] = Route(
        body=doc(url, ["https://agent.example/cb", "https://evil.example/steal"])
    )
    client = Client.objects.get(client_id=url)
    response = admin_client_.post(reverse("inventory:client_document_refetch", args=[client.pk]))
    assert response.status_code == 302
    assert AdminAction.objects.filter(action="client.cimd_refetch_requested").exists()
    newest = ClientDocument.objects.filter(client=client).order_by("-first_fetched_at").first()
    page = admin_client_.get(reverse("inventory:client_document_diff", args=[newest.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "list item added" in body and "https://evil.example/steal" in body
    assert 'class="add">+' in body and "cimd.redirect_uri_added" in body
    detail = admin_client_.get(reverse("inventory:client_document_detail", args=[client.pk]))
    assert b"changes from previous" in detail.content and b"Redirect URI added" in detail.content


@pytest.mark.django_db
def test_authorization_server_pages_show_capabilities(viewer_client):
    now = timezone.now()
    auth = AuthorizationServer.objects.create(
        issuer="https://login.acme.example",
        first_seen=now,
        last_seen=now,
        fetch_ok=True,
        supports_pkce_s256=False,
        open_registration=True,
        revocation_endpoint="https://login.acme.example/revoke",
    )
    listing = viewer_client.get(reverse("inventory:authorization_server_list")).content.decode()
    assert "https://login.acme.example" in listing and "offered" in listing
    detail = viewer_client.get(reverse("inventory:authorization_server_detail", args=[auth.pk]))
    assert b"no S256" in detail.content and b"https://login.acme.example/revoke" in detail.content


@pytest.mark.django_db
def test_the_api_lists_fetches_versions_and_authorization_servers_for_viewers(viewer_client):
    log(url="https://inside.example/c.json", error_reason="blocked_address")
    log(url="https://ok.example/c.json", ok=True, status_code=200)
    failed = viewer_client.get("/api/v1/fetch-records/", {"ok": "false"}).json()
    assert [r["url"] for r in failed["results"]] == ["https://inside.example/c.json"]
    assert viewer_client.get("/api/v1/client-documents/").status_code == 200
    assert viewer_client.get("/api/v1/authorization-servers/").status_code == 200
    assert DjangoClient().get("/api/v1/fetch-records/").status_code == 401


@pytest.mark.django_db
def test_the_client_panel_fragment_shows_state_and_open_cimd_flags(viewer_client, local_server):
    url = local_server.url("/oauth/client.json")
    local_server.routes["/oauth/client.json"] = Route(body=doc(url, ["http://localhost:9/cb"]))
    svc.refresh_client_document(url)
    client = Client.objects.get(client_id=url)
    panel = viewer_client.get(reverse("inventory:client_document_panel", args=[client.pk]))
    body = panel.content.decode()
    assert "<html" not in body and "1 version" in body
    assert "cimd.localhost_only_redirects" in body


@pytest.mark.django_db
def test_open_flags_come_first_on_the_detail_page_and_are_counted_on_the_list(viewer_client):
    now = timezone.now()
    client = Client.objects.create(
        client_id="https://busy.example/c.json", first_seen=now, last_seen=now
    )
    ClientDocumentState.objects.create(client=client)
    raise_flag(kind="cimd.invalid_document", obj=client, summary="still open", at=now)
    for i in range(60):  # more resolved flags than the page shows, all raised later
        raise_flag(
            kind="cimd.keys_changed",
            obj=client,
            summary=f"old {i}",
            dedup_key=str(i),
            at=now + timedelta(seconds=i + 1),
        )
    resolve_open_flags(client, ["cimd.keys_changed"], by="test")
    detail = viewer_client.get(reverse("inventory:client_document_detail", args=[client.pk]))
    assert "still open" in detail.content.decode()
    listing = viewer_client.get(reverse("inventory:client_document_list"))
    assert [s.open_flags for s in listing.context["page"]] == [1]
