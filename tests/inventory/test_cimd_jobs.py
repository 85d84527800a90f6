"""CIMD and OAuth-metadata discovery as crawl jobs: runners, beat tasks, admin start buttons."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.access.models import AdminAction
from inventory import queries
from inventory.models import (
    AuthorizationServer,
    Client,
    ClientDocument,
    ClientDocumentState,
    Crawl,
    Server,
    ServerRemote,
)
from inventory.services import cimd as svc
from inventory.services import crawls
from inventory.services.crawls import execute_crawl, open_crawl
from inventory.services.oauth_metadata import ALL_REMOTES_TARGET
from inventory.tasks import crawl_cimd_documents, crawl_oauth_metadata
from tests.fetch_server import Route


@pytest.fixture
def local_server(local_server, settings):
    """The shared local server (tests/conftest.py), with the crawls' concurrency pinned."""
    settings.CIMD_CRAWL_CONCURRENCY = 2
    settings.OAUTH_DISCOVERY_CONCURRENCY = 1
    return local_server


def serve_doc(server, path):
    url = server.url(path)
    server.routes[path] = Route(
        body={
            "client_id": url,
            "client_name": "Agent",
            "redirect_uris": ["https://agent.example/cb"],
        }
    )
    return url


@pytest.mark.django_db(transaction=True)
def test_the_cimd_sweep_runs_as_a_crawl_job_with_counts_and_errors(local_server):
    for i in range(3):
        svc.ensure_cimd_client(serve_doc(local_server, f"/c{i}/client.json"))
    svc.ensure_cimd_client(local_server.url("/missing/client.json"))
    crawl, _ = open_crawl(kind="cimd", target=crawls.CIMD_SWEEP_TARGET)
    assert execute_crawl(crawl.pk) == "done"
    crawl.refresh_from_db()
    assert (crawl.records, crawl.errors) == (4, 1)
    assert crawl.summary["ok"] == 3 and crawl.summary["failed"] == 1
    assert "missing/client.json" in crawl.error_log[0]["message"]
    assert ClientDocument.objects.count() == 3


@pytest.mark.django_db
def test_a_finished_cimd_crawl_shows_on_the_crawl_pages(local_server, viewer_client):
    svc.ensure_cimd_client(serve_doc(local_server, "/v/client.json"))
    crawl, _ = open_crawl(kind="cimd", target=crawls.CIMD_SWEEP_TARGET)
    execute_crawl(crawl.pk)
    detail = viewer_client.get(reverse("inventory:crawl_detail", args=[crawl.pk]))
    assert detail.status_code == 200 and b"all-due-documents" in detail.content
    assert viewer_client.get(reverse("inventory:crawl_list")).status_code == 200


@pytest.mark.django_db
def test_a_cimd_crawl_of_one_url_refreshes_that_document(local_server):
    url = serve_doc(local_server, "/one/client.json")
    crawl, _ = open_crawl(kind="cimd", target=url)
    assert execute_crawl(crawl.pk) == "done"
    crawl.refresh_from_db()
    assert crawl.summary["outcome"] == "ok" and crawl.records == 1
    assert ClientDocument.objects.filter(client__client_id=url).exists()


@pytest.mark.django_db
def test_an_oauth_metadata_crawl_discovers_every_remote(local_server):
    issuer = local_server.url("")
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(
        body={"issuer": issuer, "code_challenge_methods_supported": ["S256"]}
    )
    now = timezone.now()
    srv = Server.objects.create(name="com.acme/crm", first_seen=now, last_seen=now)
    mcp = local_server.url("/mcp")
    ServerRemote.objects.create(server=srv, url=mcp, first_seen=now, last_seen=now)
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={"resource": mcp, "authorization_servers": [issuer]}
    )
    crawl, _ = open_crawl(kind="oauth_metadata", target=ALL_REMOTES_TARGET)
    assert execute_crawl(crawl.pk) == "done"
    crawl.refresh_from_db()
    assert crawl.summary["found"] == 1 and crawl.records == 1
    assert list(queries.servers_guarded_by(AuthorizationServer.objects.get())) == [srv]


@pytest.mark.django_db
def test_beat_tasks_queue_one_cimd_and_one_oauth_crawl(
    django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(crawls, "enqueue", sent.append)
    Client.objects.create(
        client_id="https://app.example/client.json",
        first_seen=timezone.now(),
        last_seen=timezone.now(),
    )  # a new CIMD client: its document is due
    with django_capture_on_commit_callbacks(execute=True):
        first = crawl_cimd_documents()
        again = crawl_cimd_documents()
        oauth = crawl_oauth_metadata()
    assert first == again and oauth != first
    assert Crawl.objects.get(pk=first).target == crawls.CIMD_SWEEP_TARGET
    assert sent == [first, oauth]


@pytest.mark.django_db
def test_beat_starts_no_cimd_sweep_until_a_document_is_due(monkeypatch):
    monkeypatch.setattr(crawls, "enqueue", lambda crawl_id: None)
    now = timezone.now()
    client = Client.objects.create(
        client_id="https://app.example/c.json", first_seen=now, last_seen=now
    )
    ClientDocumentState.objects.create(client=client, next_fetch_at=now + timedelta(minutes=30))
    assert crawl_cimd_documents() is None  # its cache lifetime has not run out
    assert not Crawl.objects.filter(kind="cimd").exists()
    ClientDocumentState.objects.filter(client=client).update(
        next_fetch_at=now - timedelta(seconds=1)
    )
    assert crawl_cimd_documents() is not None


@pytest.mark.django_db
def test_admins_start_the_sweep_and_oauth_discovery_as_recorded_crawls(
    admin_client_, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(crawls, "enqueue", lambda crawl_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(reverse("inventory:client_document_crawl"))
        oauth = admin_client_.post(reverse("inventory:authorization_server_crawl"))
    crawl = Crawl.objects.get(kind="cimd")
    assert response["Location"] == reverse("inventory:crawl_detail", args=[crawl.pk])
    assert oauth.status_code == 302 and Crawl.objects.filter(kind="oauth_metadata").exists()
    assert AdminAction.objects.filter(action="crawl.started").count() == 2


@pytest.mark.django_db
def test_viewers_cannot_start_discovery_crawls(viewer_client):
    assert viewer_client.post(reverse("inventory:client_document_crawl")).status_code == 403
    assert viewer_client.post(reverse("inventory:authorization_server_crawl")).status_code == 403
    assert not Crawl.objects.exists()
