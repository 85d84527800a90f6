"""What a fetched document must not carry into the console: secrets (masked before storage,
flagged, a change still noticed), internal addresses in its links, localhost redirect URIs."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from inventory import cimd_checks
from inventory.models import Client, ClientDocument, Flag
from inventory.secret_members import find_secrets, mask_secrets
from inventory.services import cimd as svc
from tests.fetch_server import Route

URL = "https://agent.acme.example/oauth/client.json"
GOOD = {
    "client_id": URL,
    "client_name": "Acme Agent",
    "redirect_uris": ["https://agent.acme.example/cb"],
    "grant_types": ["authorization_code"],
    "token_endpoint_auth_method": "none",
}
PRIVATE_JWK = {
    "kty": "RSA",
    "kid": "k1",
    "n": "public-modulus",
    "e": "AQAB",
    "d": "PRIVATE-D",
    "p": "PRIVATE-P",
    "q": "PRIVATE-Q",
    "dp": "PRIVATE-DP",
    "dq": "PRIVATE-DQ",
    "qi": "PRIVATE-QI",
}


def serve(server, **extra):
    url = server.url("/oauth/client.json")
    server.routes["/oauth/client.json"] = Route(body={**GOOD, "client_id": url, **extra})
    return url


def open_kinds(client):
    return set(
        Flag.objects.filter(
            object_id=str(client.pk), object_type="inventory.client", resolved_at__isnull=True
        ).values_list("kind", flat=True)
    )


def codes(problems):
    return {p["code"] for p in problems}


# --- Pure rules -------------------------------------------------------------------------------


def test_every_secret_like_member_is_found_and_public_members_are_not():
    document = {
        **GOOD,
        "client_secret": "s",
        "registration_access_token": "t",
        "client_secret_expires_at": 0,
        "jwks": {
            "keys": [
                PRIVATE_JWK,
                {"kty": "oct", "k": "SYMMETRIC"},
                {"kty": "EC", "crv": "P-256", "x": "X", "y": "Y"},
            ]
        },
    }
    assert find_secrets(document) == [
        "client_secret",
        "registration_access_token",
        "jwks.keys[0].d",
        "jwks.keys[0].p",
        "jwks.keys[0].q",
        "jwks.keys[0].dp",
        "jwks.keys[0].dq",
        "jwks.keys[0].qi",
        "jwks.keys[1].k",
    ]
    problems = cimd_checks.validate_document(URL, document)
    assert {p["field"] for p in problems if p["code"] == "secret_present"} == set(
        find_secrets(document)
    ) - {"client_secret"}
    assert not cimd_checks.is_valid(problems)


def test_a_masked_secret_keeps_a_keyed_hash_that_changes_with_the_secret():
    first, paths = mask_secrets({"client_secret": "hunter2", "n": 1}, key=b"k")
    again, _ = mask_secrets({"client_secret": "hunter2", "n": 1}, key=b"k")
    other, _ = mask_secrets({"client_secret": "hunter3", "n": 1}, key=b"k")
    assert paths == ["client_secret"] and "hunter2" not in str(first)
    assert first == again and first != other and first["n"] == 1
    assert find_secrets(first) == []  # a masked document has nothing left to mask


@pytest.mark.parametrize("field", ["logo_uri", "jwks_uri", "client_uri", "policy_uri", "tos_uri"])
@pytest.mark.parametrize(
    "uri",
    [
        "https://127.0.0.1/x",
        "https://localhost:8443/x",
        "https://10.1.2.3/x",
        "https://192.168.0.10/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/x",
        "https://[fe80::1]/x",
        "https://metadata.google.internal/x",
        "http://2130706433/x",
    ],
)
def test_a_link_to_an_internal_address_is_warned_naming_the_field(field, uri):
    problems = cimd_checks.validate_document(URL, {**GOOD, field: uri})
    assert [p["field"] for p in problems if p["code"] == "internal_uri"] == [field]
    assert cimd_checks.is_valid(problems)  # legal, and never fetched: a warning


def test_public_links_draw_no_warning():
    assert (
        cimd_checks.validate_document(
            URL,
            {
                **GOOD,
                "logo_uri": "https://cdn.acme.example/l.png",
                "tos_uri": "https://8.8.8.8/tos",
            },
        )
        == []
    )


def test_one_localhost_redirect_uri_beside_a_public_one_is_warned_on_the_document():
    problems = cimd_checks.validate_document(
        URL,
        {
            **GOOD,
            "redirect_uris": ["https://agent.acme.example/cb", "http://127.0.0.1:33418/callback"],
        },
    )
    assert [(p["code"], p["field"]) for p in problems] == [
        ("redirect_uri_localhost", "redirect_uris[1]")
    ]
    assert cimd_checks.is_valid(problems)


# --- Through the crawler ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_published_client_secret_and_private_jwk_are_masked_before_storage_and_flagged(
    local_server, viewer_client
):
    url = serve(
        local_server,
        client_secret="hunter2-SECRET",
        jwks={"keys": [PRIVATE_JWK]},
        token_endpoint_auth_method="private_key_jwt",
    )
    svc.refresh_client_document(url)
    client = Client.objects.get(client_id=url)
    version = ClientDocument.objects.get(client=client)
    stored = version.raw + str(version.content)
    assert "hunter2-SECRET" not in stored and "PRIVATE-" not in stored
    assert version.content["jwks"]["keys"][0]["n"] == "public-modulus"  # public half kept
    assert "cimd.secret_published" in open_kinds(client)

    api = viewer_client.get("/api/v1/client-documents/").content.decode()
    page = viewer_client.get(reverse("inventory:client_document_detail", args=[client.pk]))
    assert "hunter2-SECRET" not in api and "PRIVATE-" not in api
    assert page.status_code == 200 and "hunter2-SECRET" not in page.content.decode()


@pytest.mark.django_db
def test_a_changed_secret_is_still_a_new_version_and_removing_it_resolves_the_flag(local_server):
    url = serve(local_server, client_secret="first-secret")
    svc.refresh_client_document(url)
    serve(local_server, client_secret="second-secret")
    assert svc.refresh_client_document(url).changed
    client = Client.objects.get(client_id=url)
    assert ClientDocument.objects.filter(client=client).count() == 2
    serve(local_server)
    svc.refresh_client_document(url)
    assert "cimd.secret_published" not in open_kinds(client)


@pytest.mark.django_db
def test_internal_links_and_a_localhost_redirect_are_flagged_on_the_document(local_server):
    url = serve(
        local_server,
        logo_uri="https://169.254.169.254/logo.png",
        redirect_uris=["https://agent.acme.example/cb", "http://localhost:9000/cb"],
    )
    outcome = svc.refresh_client_document(url)
    client = Client.objects.get(client_id=url)
    assert outcome.outcome == "ok"  # warnings, not errors
    assert {"cimd.internal_uri", "cimd.localhost_redirect"} <= open_kinds(client)
    serve(local_server)
    svc.refresh_client_document(url)
    assert not {"cimd.internal_uri", "cimd.localhost_redirect"} & open_kinds(client)


@pytest.mark.django_db(transaction=True)
def test_the_migration_masks_secrets_stored_before_the_fix():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    before = [("inventory", "0007_serverremote_url_without_userinfo")]
    executor.migrate(before)
    # The models as they were at that migration: today's have columns the old tables lack.
    old = executor.loader.project_state(before).apps
    old_client, old_document, old_server, old_version = (
        old.get_model("inventory", name)
        for name in ("Client", "ClientDocument", "Server", "ServerVersion")
    )
    now = timezone.now()
    client = old_client.objects.create(client_id=URL, first_seen=now, last_seen=now)
    leaked = {**GOOD, "client_secret": "OLD-SECRET"}
    version = old_document.objects.create(
        client=client,
        sha256="a" * 64,
        content=leaked,
        raw=json.dumps(leaked),
        problems=[],
        is_valid=False,
        first_fetched_at=now,
        last_fetched_at=now,
    )
    server = old_server.objects.create(
        name="com.acme/crm",
        first_seen=now,
        last_seen=now,
        repository_url="https://u:OLD-TOKEN@github.com/acme/crm",
    )
    published = old_version.objects.create(
        server=server,
        version="1.0.0",
        first_seen=now,
        last_seen=now,
        document={"remotes": [{"url": "https://u:OLD-TOKEN@mcp.acme.example/mcp"}]},
    )
    MigrationExecutor(connection).migrate(latest)
    version.refresh_from_db()
    published.refresh_from_db()
    server.refresh_from_db()
    assert "OLD-SECRET" not in version.raw + str(version.content)
    assert "OLD-TOKEN" not in str(published.document) + server.repository_url
    assert version.content["client_name"] == "Acme Agent" and version.sha256 == "a" * 64
