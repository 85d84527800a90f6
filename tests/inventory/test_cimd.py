"""The CIMD crawler against a real HTTP server on 127.0.0.1: versions, flags, schedule, hostiles."""

import socket
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from inventory.models import Client, ClientDocument, ClientDocumentState, Crawl, FetchRecord, Flag
from inventory.services import cimd as svc
from tests.fetch_server import Route


def doc_for(url, **extra):
    return {
        "client_id": url,
        "client_name": "Acme Agent",
        "redirect_uris": ["https://agent.acme.example/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"],
        **extra,
    }


def serve(server, path="/oauth/client.json", **extra):
    url = server.url(path)
    server.routes[path] = Route(body=doc_for(url, **extra))
    return url


def open_flags(client, kind=None):
    qs = Flag.objects.filter(object_id=str(client.pk), resolved_at__isnull=True)
    return qs.filter(kind=kind) if kind else qs


@pytest.mark.django_db
def test_a_first_fetch_stores_a_valid_version_and_names_the_client(local_server):
    url = serve(local_server)
    outcome = svc.refresh_client_document(url)
    client = Client.objects.get(client_id=url)
    assert outcome.outcome == "ok" and outcome.changed
    assert client.name == "Acme Agent" and client.registration == "cimd"
    version = ClientDocument.objects.get(client=client)
    assert version.is_valid and len(version.sha256) == 64 and version.content["client_name"]
    assert client.cimd_state.current == version
    assert not open_flags(client).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cache_control,expected",
    [
        ("max-age=3600", 3600),
        ("max-age=5", 300),
        ("max-age=9999999", 86400),
        (None, 86400),
        ("no-store", 300),
    ],
)
def test_the_next_fetch_follows_cache_headers_within_bounds(local_server, cache_control, expected):
    url = local_server.url("/oauth/client.json")
    headers = {"Cache-Control": cache_control} if cache_control else {}
    local_server.routes["/oauth/client.json"] = Route(body=doc_for(url), headers=headers)
    before = timezone.now()
    outcome = svc.refresh_client_document(url)
    delay = (outcome.next_fetch_at - before).total_seconds()
    assert expected - 5 <= delay <= expected + 5


@pytest.mark.django_db
def test_an_unchanged_document_keeps_one_version_and_refreshes_its_last_fetch(local_server):
    url = serve(local_server)
    first = svc.refresh_client_document(url)
    second = svc.refresh_client_document(url)
    assert not second.changed and second.version.pk == first.version.pk
    version = ClientDocument.objects.get()
    assert version.last_fetched_at > version.first_fetched_at


@pytest.mark.django_db
def test_a_changed_document_keeps_both_versions_and_flags_a_new_redirect_origin(local_server):
    url = serve(local_server)
    svc.refresh_client_document(url)
    local_server.routes["/oauth/client.json"] = Route(
        body=doc_for(
            url,
            redirect_uris=["https://agent.acme.example/callback", "https://evil.example/cb"],
            jwks_uri="https://evil.example/jwks",
        )
    )
    outcome = svc.refresh_client_document(url)
    client = Client.objects.get(client_id=url)
    assert outcome.changed and ClientDocument.objects.filter(client=client).count() == 2
    added = open_flags(client, "cimd.redirect_uri_added").get()
    assert added.severity == "high" and "https://evil.example" in added.details["new_origins"]
    assert open_flags(client, "cimd.keys_changed").exists()
    assert outcome.version.previous().pk == client.cimd_state.current.previous().pk
    assert outcome.version.previous().content["redirect_uris"] == [
        "https://agent.acme.example/callback"
    ]


@pytest.mark.django_db
def test_auth_method_and_grant_type_changes_raise_flags(local_server):
    url = serve(local_server)
    svc.refresh_client_document(url)
    serve(
        local_server,
        grant_types=["authorization_code", "client_credentials"],
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": []},
    )
    svc.refresh_client_document(url)
    client = Client.objects.get(client_id=url)
    kinds = set(open_flags(client).values_list("kind", flat=True))
    assert {"cimd.auth_method_changed", "cimd.grant_types_changed", "cimd.keys_changed"} <= kinds


@pytest.mark.django_db
def test_a_client_id_mismatch_is_kept_as_an_invalid_version_and_flagged_high(local_server):
    url = local_server.url("/oauth/client.json")
    local_server.routes["/oauth/client.json"] = Route(
        body=doc_for("https://someone-else.example/c.json")
    )
    outcome = svc.refresh_client_document(url)
    assert outcome.outcome == "invalid"
    assert "client_id_mismatch" in {p["code"] for p in outcome.problems}
    client = Client.objects.get(client_id=url)
    assert open_flags(client, "cimd.invalid_document").get().severity == "high"
    assert client.name == ""  # an invalid document does not get to name the client
    # Invalid documents are not cached: retried at the minimum interval.
    assert outcome.next_fetch_at - timezone.now() <= timedelta(seconds=301)


@pytest.mark.django_db
def test_state_flags_are_raised_once_per_version_and_resolved_once_the_document_is_fixed(
    local_server,
):
    url = local_server.url("/oauth/client.json")
    local_server.routes["/oauth/client.json"] = Route(
        body=doc_for(
            "https://someone-else.example/c.json", redirect_uris=["http://127.0.0.1:33418/cb"]
        )
    )
    svc.refresh_client_document(url)
    again = svc.refresh_client_document(url)  # unchanged: nothing raised again
    client = Client.objects.get(client_id=url)
    invalid = open_flags(client, "cimd.invalid_document").get()
    localhost = open_flags(client, "cimd.localhost_only_redirects").get()
    assert not again.changed and again.flags == []
    assert invalid.times_raised == 1 and localhost.times_raised == 1
    serve(local_server)  # fixed: valid, with a real redirect URI
    fixed = svc.refresh_client_document(url)
    assert fixed.changed and fixed.outcome == "ok"
    assert not open_flags(client, "cimd.invalid_document").exists()
    assert not open_flags(client, "cimd.localhost_only_redirects").exists()
    invalid.refresh_from_db()
    assert invalid.resolved_at is not None and invalid.resolved_by.startswith("system:")


@pytest.mark.django_db
def test_a_client_secret_in_the_document_is_invalid(local_server):
    url = serve(
        local_server, client_secret="hunter2", token_endpoint_auth_method="client_secret_basic"
    )
    outcome = svc.refresh_client_document(url)
    assert {"client_secret_present", "shared_secret_auth"} <= {p["code"] for p in outcome.problems}


@pytest.mark.django_db
def test_localhost_only_redirect_uris_are_flagged(local_server):
    url = serve(local_server, redirect_uris=["http://127.0.0.1:33418/callback"])
    outcome = svc.refresh_client_document(url)
    client = Client.objects.get(client_id=url)
    assert outcome.outcome == "ok" and open_flags(client, "cimd.localhost_only_redirects").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route,reason",
    [
        (Route(body=b'{"p": "' + b"x" * 6000 + b'"}'), "too_large"),
        (Route(status=302, headers={"Location": "https://10.0.0.1/c.json"}), "redirect_refused"),
        (Route(body=b'{"client_id": "' + b"x" * 300 + b'"}', drip_delay=0.1), "timeout"),
        (Route(body="<html>hi</html>", content_type="text/html"), "bad_content_type"),
        (Route(status=404), "http_error"),
    ],
)
def test_hostile_documents_fail_the_fetch_and_are_flagged(local_server, route, reason):
    url = local_server.url("/oauth/client.json")
    local_server.routes["/oauth/client.json"] = route
    outcome = svc.refresh_client_document(url)
    client = Client.objects.get(client_id=url)
    assert outcome.outcome == "failed" and client.cimd_state.last_error_reason == reason
    assert open_flags(client, "cimd.fetch_failed").exists()
    assert not ClientDocument.objects.exists()


@pytest.mark.django_db
def test_invalid_json_is_an_invalid_version_not_a_crash(local_server):
    url = local_server.url("/oauth/client.json")
    local_server.routes["/oauth/client.json"] = Route(body='{"client_id": ')
    outcome = svc.refresh_client_document(url)
    assert outcome.outcome == "invalid"
    assert [p["code"] for p in outcome.problems] == ["invalid_json"]
    assert ClientDocument.objects.get().content is None


@pytest.mark.django_db
def test_a_document_that_now_fails_keeps_its_last_version_backs_off_and_is_flagged_high(
    local_server,
):
    url = serve(local_server)
    good = svc.refresh_client_document(url)
    local_server.routes["/oauth/client.json"] = Route(status=500)
    first = svc.refresh_client_document(url)
    second = svc.refresh_client_document(url)
    client = Client.objects.get(client_id=url)
    assert client.cimd_state.current == good.version
    assert client.cimd_state.consecutive_failures == 2
    assert second.next_fetch_at - first.next_fetch_at >= timedelta(seconds=250)
    flag = open_flags(client, "cimd.fetch_failed").get()
    assert flag.severity == "high" and flag.times_raised == 2
    serve(local_server)
    svc.refresh_client_document(url)
    assert not open_flags(client, "cimd.fetch_failed").exists()  # recovered


@pytest.mark.django_db
def test_a_client_id_resolving_to_a_special_use_address_is_flagged_without_connecting(
    local_server, settings
):
    settings.FETCH_ALLOWLIST = []
    url = f"https://127.0.0.1:{local_server.port}/oauth/client.json"
    local_server.routes["/oauth/client.json"] = Route(body=doc_for(url))
    outcome = svc.refresh_client_document(url)
    client = Client.objects.get(client_id=url)
    assert outcome.outcome == "failed" and local_server.connections == 0
    assert open_flags(client, "cimd.special_use_address").get().severity == "high"


@pytest.mark.django_db
def test_the_sweep_adopts_https_clients_fetches_due_ones_and_is_safe_to_run_twice(
    local_server, monkeypatch
):
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: (
            [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port))]
            if host == "app.from-events.example"
            else real(host, port, *a, **k)
        ),
    )
    due = serve(local_server, "/a/client.json")
    later = serve(local_server, "/b/client.json")
    svc.ensure_cimd_client(due)
    svc.ensure_cimd_client(later)
    ClientDocumentState.objects.filter(client__client_id=later).update(
        next_fetch_at=timezone.now() + timedelta(hours=1)
    )
    now = timezone.now()
    seen = Client.objects.create(
        client_id="https://app.from-events.example/client.json",
        first_seen=now,
        last_seen=now,
        seen_from="events",
    )
    counts = svc.refresh_due_documents(concurrency=1)
    assert counts["due"] == 2 and counts["ok"] == 1 and counts["failed"] == 1  # a private address
    assert ClientDocumentState.objects.filter(client=seen).exists()
    assert not ClientDocument.objects.filter(client__client_id=later).exists()
    assert svc.refresh_due_documents(concurrency=1)["due"] == 0
    fetches = FetchRecord.objects.filter(url=due).count()
    assert fetches == 1


@pytest.mark.django_db(transaction=True)
def test_the_sweep_fetches_concurrently_in_worker_threads(local_server):
    urls = [serve(local_server, f"/c{i}/client.json") for i in range(6)]
    for url in urls:
        svc.ensure_cimd_client(url)
    counts = svc.refresh_due_documents(concurrency=4)
    assert counts["ok"] == 6
    assert ClientDocument.objects.count() == 6


@pytest.mark.django_db
def test_the_command_fetches_inline_as_a_crawl_and_prints_the_outcome(local_server, capsys):
    url = serve(local_server, redirect_uris=["http://localhost:1234/cb"])
    call_command("fetch_client", url)
    out = capsys.readouterr().out
    assert "fetching" in out and f"{url}: ok" in out
    assert "flag [warning] cimd.localhost_only_redirects" in out
    assert Crawl.objects.get().requested_by == "command"
    with pytest.raises(CommandError):
        call_command("fetch_client", "https://agent.example/#frag")
    local_server.routes["/oauth/client.json"] = Route(status=500)
    with pytest.raises(CommandError, match="fetch failed"):
        call_command("fetch_client", url)


@pytest.mark.django_db
def test_the_command_sweeps_every_due_document_inline(local_server, capsys):
    for i in range(2):
        svc.ensure_cimd_client(serve(local_server, f"/d{i}/client.json"))
    call_command("fetch_client", "--all-due")
    assert "records 2, errors 0" in capsys.readouterr().out
    assert ClientDocument.objects.count() == 2
