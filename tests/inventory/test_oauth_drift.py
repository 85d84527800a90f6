"""OAuth metadata drift: a server's PRM or its authorization server changing where tokens go is a
finding on the server, with each changed field before and after (discovery against a local
server)."""

import pytest
from django.utils import timezone

from inventory.models import Finding, Server, ServerRemote
from inventory.services import oauth_metadata as svc
from inventory.services.oauth_drift import changed_fields
from inventory.services.rule_settings import save_rule_overrides
from tests.fetch_server import Route

pytestmark = pytest.mark.django_db
KIND = "server.oauth_metadata_changed"


def _remote(url, name="com.acme/crm"):
    now = timezone.now()
    server = Server.objects.create(name=name, first_seen=now, last_seen=now)
    return ServerRemote.objects.create(server=server, url=url, first_seen=now, last_seen=now)


def _as_metadata(issuer, **extra):
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize",
        "token_endpoint": issuer + "/token",
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["crm:read", "crm:write"],
        **extra,
    }


@pytest.fixture
def guarded(local_server):
    """A remote whose PRM names one authorization server, discovered once."""
    mcp, issuer = local_server.url("/mcp"), local_server.url("")
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={"resource": mcp, "authorization_servers": [issuer], "scopes_supported": ["crm:read"]}
    )
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(
        body=_as_metadata(issuer)
    )
    remote = _remote(mcp)
    svc.discover_remote(remote)
    return local_server, remote, issuer


def _drift(server):
    return list(Finding.objects.open().filter(kind=KIND, object_id=str(server.pk)))


def test_rediscovering_unchanged_or_reordered_metadata_is_no_drift(guarded):
    local_server, remote, issuer = guarded
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(
        body=_as_metadata(issuer, scopes_supported=["crm:write", "crm:read"])
    )
    svc.discover_remote(remote)
    assert _drift(remote.server) == []


def test_an_authorization_server_moving_its_token_endpoint_is_drift_on_the_servers_it_guards(
    guarded,
):
    local_server, remote, issuer = guarded
    evil = "https://tokens.elsewhere.example/token"
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(
        body=_as_metadata(issuer, token_endpoint=evil)
    )
    svc.discover_remote(remote)
    [finding] = _drift(remote.server)
    assert finding.severity == "warning" and "token_endpoint" in finding.summary
    assert finding.details["document"] == "authorization_server"
    assert finding.details["changed"] == {
        "token_endpoint": {"before": issuer + "/token", "after": evil}
    }
    # Seen again, the same change refreshes the finding rather than opening another.
    svc.discover_remote(remote)
    assert len(_drift(remote.server)) == 1


def test_a_prm_naming_other_authorization_servers_is_drift_with_before_and_after(guarded):
    local_server, remote, issuer = guarded
    other = local_server.url("/other")
    local_server.routes["/.well-known/oauth-authorization-server/other"] = Route(
        body=_as_metadata(other)
    )
    local_server.routes["/.well-known/oauth-protected-resource/mcp"] = Route(
        body={"resource": remote.url, "authorization_servers": [other], "scopes_supported": []}
    )
    svc.discover_remote(remote)
    [finding] = _drift(remote.server)
    assert finding.details["document"] == "protected_resource"
    assert finding.details["changed"]["authorization_servers"] == {
        "before": [issuer],
        "after": [other],
    }
    assert set(finding.details["changed"]) == {"authorization_servers", "scopes_supported"}


def test_an_outage_is_not_drift_and_a_rule_turned_off_raises_nothing(guarded):
    local_server, remote, issuer = guarded
    local_server.routes.pop("/.well-known/oauth-authorization-server")
    svc.discover_remote(remote)
    assert _drift(remote.server) == []
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(
        body=_as_metadata(issuer)
    )
    svc.discover_remote(remote)  # back: nothing to compare with, so no drift either
    assert _drift(remote.server) == []
    save_rule_overrides(KIND, enabled=False, severity="warning", thresholds={})
    local_server.routes["/.well-known/oauth-authorization-server"] = Route(
        body=_as_metadata(issuer, jwks_uri=issuer + "/keys")
    )
    svc.discover_remote(remote)
    assert _drift(remote.server) == []


def test_only_the_fields_that_decide_where_tokens_go_count():
    before = {"issuer": "https://a", "service_documentation": "https://a/docs"}
    after = {"issuer": "https://a", "service_documentation": "https://a/new-docs"}
    assert changed_fields(before, after, ("issuer",)) == {}
