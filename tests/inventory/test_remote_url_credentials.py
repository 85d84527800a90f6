"""Server URLs are stored without `user:password@` (noting that it was there), whichever path
stores them: events, registry crawls, the upsert service, and rows stored before the fix."""

import secrets

import httpx
import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client as DjangoClient
from django.utils import timezone

from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from inventory.models import ProtectedResource, Registry, Server, ServerRemote, ServerVersion
from inventory.remote_urls import strip_userinfo
from inventory.services.crawls import execute_crawl, open_crawl
from inventory.services.entities import upsert_server
from tests.conftest import _user_with_role
from tests.fetch_server import Route
from tests.fixtures.registry_server import entry, example, running_registry
from tests.ingest_helpers import make_event


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://user:pw@mcp.example/mcp", ("https://mcp.example/mcp", True)),
        (
            "https://[REDACTED:password_in_url]@mcp.example:8443/mcp?x=1",
            ("https://mcp.example:8443/mcp?x=1", True),
        ),
        ("https://a@b:c@mcp.example/", ("https://mcp.example/", True)),  # up to the last @
        ("https://token@mcp.example", ("https://mcp.example", True)),
        ("https://mcp.example/path@not-userinfo", ("https://mcp.example/path@not-userinfo", False)),
        ("https://mcp.example/mcp", ("https://mcp.example/mcp", False)),
    ],
)
def test_userinfo_is_stripped_up_to_the_authoritys_last_at_sign(url, expected):
    assert strip_userinfo(url) == expected


@pytest.mark.django_db(transaction=True)
def test_a_remote_reported_with_a_password_is_stored_without_it_and_can_be_rediscovered(
    live_server, local_server
):
    """The defect: ingest redacted the password to `[REDACTED:password_in_url]@`, that URL was
    stored as the remote, and "Re-discover" on it answered 500."""
    clean = local_server.url("/mcp")
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={"resource": clean, "authorization_servers": []}
    )
    _, token = create_source(name="gw-creds")
    event = make_event(
        server={"name": "com.acme/crm", "url": clean.replace("http://", "http://gw:s3cret-pass@")}
    )
    stored = httpx.post(
        f"{live_server.url}/api/v1/events",
        json=[event],
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert stored.status_code == 200 and stored.json()["accepted"] == 1

    remote = ServerRemote.objects.get(server__name="com.acme/crm")
    assert (remote.url, remote.had_credentials) == (clean, True)

    browser = DjangoClient()
    browser.force_login(_user_with_role("admin-creds", "Admin"))
    csrf = secrets.token_hex(16)  # an unmasked 32-character token, as a cookie and a header
    answer = httpx.post(
        f"{live_server.url}/inventory/discovery/oauth/remotes/{remote.pk}/discover/",
        headers={
            "X-CSRFToken": csrf,
            "Cookie": f"csrftoken={csrf}; sessionid={browser.cookies['sessionid'].value}",
        },
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:500]
    assert ProtectedResource.objects.get(remote=remote).fetch_ok


@pytest.mark.django_db
def test_ingest_merges_a_url_with_and_without_credentials_into_one_remote_that_had_them():
    source = create_source(name="gw-merge")[0]
    server = {"name": "com.acme/crm", "url": "https://mcp.acme.example/mcp"}
    ingest_events(source=source, events=[make_event(server=server)])
    assert not ServerRemote.objects.get().had_credentials
    ingest_events(
        source=source,
        events=[
            make_event(server={**server, "url": "https://svc:hunter22@mcp.acme.example/mcp"}),
            make_event(server=server),
        ],
    )
    remote = ServerRemote.objects.get()
    assert (remote.url, remote.had_credentials) == ("https://mcp.acme.example/mcp", True)


@pytest.mark.django_db
def test_the_upsert_service_strips_credentials_and_the_database_refuses_them_from_anyone():
    server, _ = upsert_server(
        name="com.acme/crm",
        at=timezone.now(),
        remotes=[
            {"url": "https://mcp.acme.example/mcp"},
            {"url": "https://u:p@mcp.acme.example/mcp"},
        ],
    )
    assert list(server.remotes.values_list("url", "had_credentials")) == [
        ("https://mcp.acme.example/mcp", True)
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        ServerRemote.objects.create(
            server=server,
            url="https://u:p@other.example/mcp",
            first_seen=timezone.now(),
            last_seen=timezone.now(),
        )


@pytest.mark.django_db
def test_a_registry_remote_with_credentials_is_stored_without_them(settings):
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
    server = example("context7")
    server["remotes"] = [
        {"type": "streamable-http", "url": "https://user:tok3n@mcp.context7.example/mcp"}
    ]
    server["repository"] = {
        "url": "https://x-access-token:ghtok3n@github.com/acme/c7",
        "source": "github",
    }
    with running_registry([entry(server)]) as fake:
        registry = Registry.objects.create(name="local", base_url=fake.url)
        job, _ = open_crawl(kind="registry", target=registry.base_url, registry=registry)
        execute_crawl(job.pk)
    remote = ServerRemote.objects.get(server__name=server["name"])
    assert (remote.url, remote.had_credentials) == ("https://mcp.context7.example/mcp", True)
    stored = Server.objects.get(name=server["name"])
    assert stored.repository_url == "https://github.com/acme/c7"
    document = str(ServerVersion.objects.get(server=stored).document)
    assert "tok3n" not in document and "https://mcp.context7.example/mcp" in document


@pytest.mark.django_db(transaction=True)
def test_the_migration_strips_stored_userinfo_and_merges_a_url_stored_both_ways():
    executor = MigrationExecutor(connection)
    before = [("inventory", "0006_remove_authorizationserver_servers")]
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    now = timezone.now()
    server = Server.objects.create(name="com.acme/crm", first_seen=now, last_seen=now)
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO inventory_serverremote (server_id, url, transport, first_seen, last_seen)"
            " VALUES (%s, %s, 'streamable-http', %s, %s)",
            [
                (server.pk, "https://[REDACTED:password_in_url]@a.example/mcp", now, now),
                (server.pk, "https://u:p@b.example/mcp", now, now),
                (server.pk, "https://b.example/mcp", now, now),
                (server.pk, "https://c.example/mcp", now, now),
            ],
        )
    MigrationExecutor(connection).migrate(latest)
    assert sorted(ServerRemote.objects.values_list("url", "had_credentials")) == [
        ("https://a.example/mcp", True),
        ("https://b.example/mcp", True),
        ("https://c.example/mcp", False),
    ]
