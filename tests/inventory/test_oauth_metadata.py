"""Servers' OAuth metadata discovery (RFC 9728 PRM, RFC 8414 / OIDC) against a local server."""

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory import queries
from inventory.models import AuthorizationServer, Flag, ProtectedResource, Server, ServerRemote
from inventory.services import oauth_metadata as svc
from inventory.upstream import oauth_metadata as upstream
from tests.fetch_server import Route


def remote_at(url, name="com.acme/crm"):
    now = timezone.now()
    server = Server.objects.create(name=name, first_seen=now, last_seen=now)
    return ServerRemote.objects.create(server=server, url=url, first_seen=now, last_seen=now)


def as_metadata(issuer, **extra):
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize",
        "token_endpoint": issuer + "/token",
        "revocation_endpoint": issuer + "/revoke",
        "introspection_endpoint": issuer + "/introspect",
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["crm:read"],
        "client_id_metadata_document_supported": True,
        **extra,
    }


def flag_kinds(obj):
    return set(
        Flag.objects.filter(
            object_id=str(obj.pk), object_type=obj._meta.label_lower, resolved_at__isnull=True
        ).values_list("kind", flat=True)
    )


def test_well_known_urls_follow_the_spec_order():
    assert upstream.prm_candidates("https://h.example/public/mcp") == [
        ("https://h.example/.well-known/oauth-protected-resource/public/mcp", "well-known-path"),
        ("https://h.example/.well-known/oauth-protected-resource", "well-known-root"),
    ]
    assert upstream.as_metadata_candidates("https://a.example/tenant1") == [
        "https://a.example/.well-known/oauth-authorization-server/tenant1",
        "https://a.example/.well-known/openid-configuration/tenant1",
        "https://a.example/tenant1/.well-known/openid-configuration",
    ]
    assert upstream.as_metadata_candidates("https://a.example") == [
        "https://a.example/.well-known/oauth-authorization-server",
        "https://a.example/.well-known/openid-configuration",
    ]


def test_www_authenticate_parameters_are_parsed():
    params = upstream.parse_www_authenticate(
        'Bearer resource_metadata="https://m.example/.well-known/oauth-protected-resource/mcp", '
        'scope="crm:read crm:write", error="invalid_token"'
    )
    assert params["resource_metadata"].endswith("/oauth-protected-resource/mcp")
    assert params["scope"] == "crm:read crm:write"


@pytest.mark.django_db
def test_the_challenge_leads_to_the_prm_and_the_issuer_with_a_path_in_spec_order(local_server):
    mcp, issuer = local_server.url("/mcp"), local_server.url("/tenant1")
    prm_url = local_server.url("/custom/prm")
    local_server.routes["/mcp"] = Route(
        status=401,
        headers={"WWW-Authenticate": f'Bearer resource_metadata="{prm_url}", scope="crm:read"'},
    )
    local_server.routes["/custom/prm"] = Route(
        body={"resource": mcp, "authorization_servers": [issuer], "scopes_supported": ["crm:read"]}
    )
    local_server.routes["/.well-known/openid-configuration/tenant1"] = Route(
        body=as_metadata(issuer, registration_endpoint=issuer + "/register")
    )
    remote = remote_at(mcp)
    prm = svc.discover_remote(remote)
    assert (prm.discovered_via, prm.prm_url, prm.challenge_scope) == (
        "www-authenticate",
        prm_url,
        "crm:read",
    )
    assert prm.fetch_ok and prm.problems == []
    auth = AuthorizationServer.objects.get(issuer=issuer)
    assert auth.supports_pkce_s256 and auth.cimd_supported and auth.open_registration
    assert auth.revocation_endpoint == issuer + "/revoke"
    assert auth.introspection_endpoint == issuer + "/introspect"
    assert list(queries.servers_guarded_by(auth)) == [remote.server]
    assert list(prm.authorization_servers.all()) == [auth]
    gets = [path for method, path, *_ in local_server.requests if method == "GET"]
    assert gets == [
        "/custom/prm",
        "/.well-known/oauth-authorization-server/tenant1",
        "/.well-known/openid-configuration/tenant1",
    ]
    assert flag_kinds(auth) == {"oauth.open_registration"}
    assert local_server.requests[0][0] == "POST" and b'"initialize"' in local_server.requests[0][3]


@pytest.mark.django_db
def test_without_a_challenge_the_well_known_paths_are_probed_path_first_then_root(local_server):
    mcp, issuer = local_server.url("/public/mcp"), local_server.url("")
    local_server.routes["/public/mcp"] = Route(status=401, headers={"WWW-Authenticate": "Bearer"})
    local_server.routes["/.well-known/oauth-protected-resource"] = Route(
        body={"resource": mcp, "authorization_servers": [issuer]}
    )
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(body=as_metadata(issuer))
    prm = svc.discover_remote(remote_at(mcp))
    assert prm.discovered_via == "well-known-root"
    gets = [path for method, path, *_ in local_server.requests if method == "GET"]
    assert gets[:2] == [
        "/.well-known/oauth-protected-resource/public/mcp",
        "/.well-known/oauth-protected-resource",
    ]


@pytest.mark.django_db
def test_a_prm_resource_for_another_url_is_flagged_high_on_the_server(local_server):
    mcp, issuer = local_server.url("/mcp"), local_server.url("")
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={
            "resource": "https://other.example/mcp",
            "authorization_servers": [issuer],
            "scopes_supported": ["crm:read", "*"],
        }
    )
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(body=as_metadata(issuer))
    remote = remote_at(mcp)
    prm = svc.discover_remote(remote)
    assert {p["code"] for p in prm.problems} == {"resource_mismatch", "omnibus_scopes"}
    assert flag_kinds(remote.server) == {"oauth.prm_resource_mismatch", "oauth.omnibus_scopes"}
    assert Flag.objects.get(kind="oauth.prm_resource_mismatch").severity == "high"


@pytest.mark.django_db
def test_an_authorization_server_without_s256_or_with_another_issuer_is_flagged(local_server):
    mcp, issuer = local_server.url("/mcp"), local_server.url("")
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={"resource": mcp, "authorization_servers": [issuer]}
    )
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(
        body=as_metadata(
            "https://impostor.example",
            code_challenge_methods_supported=["plain"],
            scopes_supported=["all"],
        )
    )
    svc.discover_remote(remote_at(mcp))
    auth = AuthorizationServer.objects.get(issuer=issuer)
    assert not auth.supports_pkce_s256
    assert flag_kinds(auth) == {
        "oauth.issuer_mismatch",
        "oauth.no_pkce_s256",
        "oauth.omnibus_scopes",
    }


@pytest.mark.django_db
def test_flags_resolve_once_the_metadata_is_fixed(local_server):
    mcp, issuer = local_server.url("/mcp"), local_server.url("")
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={"resource": mcp, "authorization_servers": [issuer]}
    )
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(
        body=as_metadata(issuer, code_challenge_methods_supported=[])
    )
    remote = remote_at(mcp)
    svc.discover_remote(remote)
    auth = AuthorizationServer.objects.get(issuer=issuer)
    assert flag_kinds(auth) == {"oauth.no_pkce_s256"}
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(body=as_metadata(issuer))
    svc.discover_remote(remote)
    assert flag_kinds(auth) == set()
    assert ProtectedResource.objects.count() == 1 and AuthorizationServer.objects.count() == 1


@pytest.mark.django_db
def test_an_issuer_the_prm_no_longer_names_no_longer_guards_the_server(local_server, viewer_client):
    mcp, old, new = local_server.url("/mcp"), local_server.url("/old"), local_server.url("/new")
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={"resource": mcp, "authorization_servers": [old]}
    )
    for path, issuer in (("/old", old), ("/new", new)):
        local_server.routes["/.well-known/oauth-authorization-server" + path] = Route(
            body=as_metadata(issuer)
        )
    remote = remote_at(mcp)
    other = remote_at(local_server.url("/other/mcp"), name="com.acme/other")
    local_server.routes["/.well-known/oauth-protected-resource/other/mcp"] = Route(
        body={"resource": other.url, "authorization_servers": [old]}
    )
    svc.discover_remote(remote)
    svc.discover_remote(other)
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={"resource": mcp, "authorization_servers": [new]}
    )
    svc.discover_remote(remote)
    old_auth, new_auth = (AuthorizationServer.objects.get(issuer=i) for i in (old, new))
    assert list(queries.servers_guarded_by(old_auth)) == [other.server]
    assert list(queries.servers_guarded_by(new_auth)) == [remote.server]
    api = {
        a["issuer"]: a["servers"]
        for a in viewer_client.get("/api/v1/authorization-servers/").json()["results"]
    }
    assert api == {old: ["com.acme/other"], new: ["com.acme/crm"]}
    assert viewer_client.get(f"/api/v1/authorization-servers/{old_auth.pk}/").json()["servers"] == [
        "com.acme/other"
    ]
    listing = viewer_client.get(reverse("inventory:authorization_server_list"))
    assert {a.issuer: len(a.guarded_names) for a in listing.context["page"]} == {old: 1, new: 1}
    detail = viewer_client.get(reverse("inventory:authorization_server_detail", args=[old_auth.pk]))
    assert list(detail.context["guarded"]) == [other.server]
    assert "com.acme/crm" not in detail.content.decode().split("Servers it guards")[1]


@pytest.mark.django_db
def test_a_challenge_pointing_inside_is_refused_and_the_well_known_path_used(local_server):
    mcp, issuer = local_server.url("/mcp"), local_server.url("")
    local_server.routes["/mcp"] = Route(
        status=401,
        headers={
            "WWW-Authenticate": 'Bearer resource_metadata="https://169.254.169.254/latest/meta-data"'
        },
    )
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={"resource": mcp, "authorization_servers": [issuer]}
    )
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(body=as_metadata(issuer))
    prm = svc.discover_remote(remote_at(mcp))
    assert prm.discovered_via == "well-known-path" and "blocked_address" in prm.last_error


@pytest.mark.django_db
def test_a_prm_url_redirecting_to_an_unparseable_location_is_skipped_not_a_crash(local_server):
    mcp, issuer = local_server.url("/mcp"), local_server.url("")
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        status=302, headers={"Location": "http:////[::1]:x"}
    )
    local_server.routes["/.well-known/oauth-protected-resource"] = Route(
        body={"resource": mcp, "authorization_servers": [issuer]}
    )
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(body=as_metadata(issuer))
    prm = svc.discover_remote(remote_at(mcp))
    assert prm.fetch_ok and prm.discovered_via == "well-known-root"
    assert "invalid_url" in prm.last_error


@pytest.mark.django_db
def test_a_prm_naming_an_issuer_no_parser_accepts_stores_it_as_unavailable_not_a_crash(
    local_server,
):
    mcp, good = local_server.url("/mcp"), local_server.url("")
    hostile = "https://[REDACTED:password_in_url]@idp.example/"
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={"resource": mcp, "authorization_servers": [hostile, good]}
    )
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(body=as_metadata(good))
    prm = svc.discover_remote(remote_at(mcp))
    assert prm.fetch_ok
    broken = AuthorizationServer.objects.get(issuer=hostile)
    assert not broken.fetch_ok and "not a valid URL" in broken.problems[0]["message"]
    assert AuthorizationServer.objects.get(issuer=good).fetch_ok


@pytest.mark.django_db
def test_a_protected_server_without_any_prm_is_flagged_and_the_crawl_goes_on(local_server):
    local_server.routes["/mcp"] = Route(status=401, headers={"WWW-Authenticate": "Bearer"})
    broken = remote_at(local_server.url("/mcp"))
    counts = svc.discover_all(concurrency=1)
    assert counts == {"remotes": 1, "found": 0, "missing": 1, "failed": 0}
    assert flag_kinds(broken.server) == {"oauth.prm_unavailable"}


@pytest.mark.django_db(transaction=True)
def test_discovery_of_many_remotes_runs_in_worker_threads(local_server):
    issuer = local_server.url("")
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(body=as_metadata(issuer))
    for i in range(4):
        mcp = local_server.url(f"/s{i}/mcp")
        local_server.routes[f"/.well-known/oauth-protected-resource/s{i}/mcp"] = Route(
            body={"resource": mcp, "authorization_servers": [issuer]}
        )
        remote_at(mcp, name=f"com.acme/s{i}")
    assert svc.discover_all(concurrency=4) == {"remotes": 4, "found": 4, "missing": 0, "failed": 0}
    assert queries.servers_guarded_by(AuthorizationServer.objects.get()).count() == 4


@pytest.mark.django_db
def test_the_api_reads_guarded_servers_in_one_query_and_names_each_server_once(
    viewer_client, django_assert_num_queries
):
    now = timezone.now()

    def guarded_by(issuer, *names):
        auth = AuthorizationServer.objects.create(issuer=issuer, first_seen=now, last_seen=now)
        for i, name in enumerate(names):
            remote = remote_at(f"https://{i}.{issuer[8:]}/mcp", name=name)
            twin = ServerRemote.objects.create(
                server=remote.server, url=remote.url + "/v2", first_seen=now, last_seen=now
            )
            for r in (remote, twin):  # two remotes of one server both name the issuer
                prm = ProtectedResource.objects.create(remote=r, fetched_at=now)
                prm.authorization_servers.add(auth)

    guarded_by("https://a.example", "com.acme/b", "com.acme/a")
    guarded_by("https://b.example", "com.acme/c")
    AuthorizationServer.objects.create(issuer="https://c.example", first_seen=now, last_seen=now)
    with django_assert_num_queries(5):  # session, user, role, page count, the page
        body = viewer_client.get("/api/v1/authorization-servers/").json()
    assert [(a["issuer"], a["servers"]) for a in body["results"]] == [
        ("https://a.example", ["com.acme/a", "com.acme/b"]),
        ("https://b.example", ["com.acme/c"]),
        ("https://c.example", []),
    ]


@pytest.mark.django_db
def test_secrets_in_prm_or_authorization_server_metadata_are_masked_before_storage_and_flagged(
    local_server, viewer_client
):
    mcp, issuer = local_server.url("/mcp"), local_server.url("")
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={
            "resource": mcp,
            "authorization_servers": [issuer],
            "access_token": "PRM-TOKEN-SECRET",
        }
    )
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(
        body=as_metadata(
            issuer,
            client_secret="AS-CLIENT-SECRET",
            jwks={"keys": [{"kty": "EC", "crv": "P-256", "x": "X", "y": "Y", "d": "AS-PRIVATE-D"}]},
        )
    )
    remote = remote_at(mcp)
    prm = svc.discover_remote(remote)
    auth = AuthorizationServer.objects.get(issuer=issuer)
    stored = str(prm.document) + str(auth.metadata)
    assert [
        s for s in ("PRM-TOKEN-SECRET", "AS-CLIENT-SECRET", "AS-PRIVATE-D") if s in stored
    ] == []
    assert auth.metadata["jwks"]["keys"][0]["x"] == "X" and auth.token_endpoint
    assert "oauth.secret_in_metadata" in flag_kinds(remote.server)
    assert "oauth.secret_in_metadata" in flag_kinds(auth)
    page = viewer_client.get(reverse("inventory:authorization_server_detail", args=[auth.pk]))
    assert page.status_code == 200 and "AS-CLIENT-SECRET" not in page.content.decode()
