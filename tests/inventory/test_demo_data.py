"""Demo data: realistic coverage, built through the services, and idempotent."""

import pytest
from django.core.management import call_command
from django.db import connection

from audit.models import AuditEvent
from governance.access.models import SiteSetting
from inventory.models import (
    Client,
    Flag,
    Grant,
    Identity,
    ProtocolProfile,
    ProtocolProfileChange,
    ProtocolSession,
    SamplingRequest,
    Server,
    Task,
    TaskStatusChange,
    Tool,
    UrlElicitation,
)

pytestmark = pytest.mark.django_db

TABLES = [
    "inventory_identity",
    "inventory_client",
    "inventory_server",
    "inventory_serverversion",
    "inventory_serverremote",
    "inventory_tool",
    "inventory_registry",
    "inventory_grant",
    "inventory_task",
    "inventory_taskstatuschange",
    "inventory_finding",
    "inventory_protocolsession",
    "inventory_protocolprofile",
    "inventory_protocolprofilechange",
    "inventory_urlelicitation",
    "inventory_samplingrequest",
    "governance_sitesetting",
    "governance_adminaction",
]


def _fingerprint() -> dict[str, tuple[int, str]]:
    """Row count and an md5 over every row's full text, per table."""
    result = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id),"
                f" '')) FROM {table} t"
            )
            result[table] = cursor.fetchone()
    return result


def _audit_counts() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM audit_event), (SELECT count(*) FROM audit_eventbatch)"
        )
        return cursor.fetchone()


def test_seeding_twice_changes_nothing():
    call_command("seed_demo", "--scale", "0.1", "--seed", "7")
    first, first_audit = _fingerprint(), _audit_counts()
    call_command("seed_demo", "--scale", "0.1", "--seed", "7")
    assert _fingerprint() == first
    assert _audit_counts() == first_audit
    assert first["inventory_grant"][0] == 300
    # a week of demo tool calls and a dozen sessions' protocol traffic, through the ingest path
    protocol = AuditEvent.objects.filter(event_id__startswith="demo-7-p").count()
    assert first_audit[0] == 300 + protocol and protocol >= 12


def test_the_demo_covers_every_status_and_kind_a_console_must_show():
    call_command("seed_demo", "--scale", "0.2")
    assert set(Identity.objects.values_list("kind", flat=True)) == {"human", "service", "agent"}
    assert Identity.objects.filter(status="disabled").exists()
    assert Identity.objects.filter(kind="agent", owner__kind="human").exists()
    assert len(set(Identity.objects.values_list("issuer", flat=True))) == 5
    assert set(Client.objects.values_list("registration", flat=True)) >= {
        "cimd",
        "pre_registered",
        "dcr",
        "client_credentials",
    }
    assert Server.objects.filter(name__contains="/").count() >= 20
    assert Tool.objects.filter(name_conforms=False).exists()
    assert set(Grant.objects.values_list("status", flat=True)) == {"active", "revoked", "expired"}
    assert set(Grant.objects.values_list("grant_type", flat=True)) == set(Grant.GrantType.values)
    revoked = Grant.objects.filter(status="revoked")
    assert (
        not revoked.filter(revoked_by="").exists() and not revoked.filter(revoke_reason="").exists()
    )
    assert set(Task.objects.values_list("status", flat=True)) == set(Task.Status.values)
    assert TaskStatusChange.objects.filter(is_legal=False).exists()
    assert (
        Task.objects.filter(flagged=True).count()
        == Flag.objects.filter(kind="task.illegal_transition").count()
        > 0
    )


def test_the_demo_shows_each_protocol_feature_and_flag():
    call_command("seed_demo", "--scale", "0.2")
    versions = set(ProtocolSession.objects.values_list("negotiated_version", flat=True))
    assert {"2025-11-25", "2026-07-28"} <= versions and len(versions) >= 3
    assert ProtocolProfile.objects.filter(role="client", elicitation_url=True).exists()
    assert ProtocolProfile.objects.filter(role="client", elicitation_url=False).exists()
    assert ProtocolProfile.objects.filter(role="server").exclude(extensions=[]).exists()
    assert ProtocolProfileChange.objects.exists()
    assert UrlElicitation.objects.filter(via_error=True).exists()
    assert UrlElicitation.objects.filter(completed_at__isnull=False).exists()
    assert SamplingRequest.objects.filter(tool_count__gt=0).exists()
    kinds = set(Flag.objects.filter(kind__startswith="protocol.").values_list("kind", flat=True))
    assert {
        "protocol.elicitation_foreign_origin",
        "protocol.elicitation_not_https",
        "protocol.sampling_with_tools",
    } <= kinds


def test_demo_timestamps_hang_off_the_stored_anchor():
    call_command("seed_demo", "--scale", "0.05")
    anchor = SiteSetting.objects.get(key="demo_anchor").value
    latest = Grant.objects.order_by("-issued_at").first().issued_at
    assert latest.isoformat() <= anchor


def test_a_nonsense_scale_is_refused():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="scale"):
        call_command("seed_demo", "--scale", "0")


def test_namesakes_get_distinct_emails_so_large_scales_terminate(monkeypatch):
    # One first and one last name: every human after the first is a namesake.
    monkeypatch.setattr("inventory.services.demo.FIRST_NAMES", ["Ada"])
    monkeypatch.setattr("inventory.services.demo.LAST_NAMES", ["Abbott"])
    call_command("seed_demo", "--scale", "0.05")
    emails = list(Identity.objects.filter(kind="human").values_list("email", flat=True))
    assert len(emails) == 15 == len(set(emails))
    assert "ada.abbott2@acme.example" in emails


def test_demo_data_gives_the_crawlers_nothing_real_to_fetch():
    from inventory.models import Registry, ServerRemote

    call_command("seed_demo", "--scale", "0.05")
    https_ids = Client.objects.filter(client_id__startswith="https://")
    assert https_ids.exists()
    for url in [
        *https_ids.values_list("client_id", flat=True),
        *ServerRemote.objects.values_list("url", flat=True),
    ]:
        assert url.split("/")[2].endswith(".example"), url
    assert not Registry.objects.filter(enabled=True).exists()


def test_demo_registries_are_stored_normalized_so_a_crawl_finds_them_not_a_duplicate():
    from inventory.models import Registry
    from inventory.services.registry import normalize_base_url, registry_for_url

    # A database seeded before the fix holds the trailing slash: seeding again mends it.
    Registry.objects.create(
        name="ACME private registry (demo)",
        base_url="https://mcp-registry.acme.example/",
        enabled=False,
    )
    call_command("seed_demo", "--scale", "0.05")
    urls = list(Registry.objects.values_list("base_url", flat=True))
    assert len(urls) == 2 and all(url == normalize_base_url(url) for url in urls)
    for url in urls:  # what `manage.py crawl_registry URL` looks the registry up by
        registry, created = registry_for_url(url + "/v0.1")
        assert registry.base_url == url and not created
    assert Registry.objects.count() == 2


def test_demo_grants_take_their_servers_first_remote_as_resource():
    """A grant's audience is its server's first remote in URL order, as the console lists them.

    The demo GitHub server has three remotes, and the one that sorts first (/mcp/) is stored
    second: taking the last by URL, or the first or last one stored, gives another URL.
    """
    from inventory.models import ServerRemote
    from inventory.services.demo_catalog import SERVERS

    call_command("seed_demo", "--scale", "0.05")
    github = "io.github.github/github-mcp-server"
    assert list(
        ServerRemote.objects.filter(server__name=github)
        .order_by("id")
        .values_list("url", flat=True)
    ) == [
        "https://api.githubcopilot.example/mcp/readonly",
        "https://api.githubcopilot.example/mcp/",
        "https://api.githubcopilot.example/mcp/x/repos",
    ]
    github_grants = Grant.objects.filter(server__name=github)
    assert github_grants.exists()
    assert set(github_grants.values_list("resource", flat=True)) == {
        "https://api.githubcopilot.example/mcp/"
    }
    # Every other server has one remote in the catalog, its grants' audience, or none at all.
    expected = {github: "https://api.githubcopilot.example/mcp/"}
    for spec in SERVERS:
        if spec["name"] != github:
            assert len(spec["remotes"]) <= 1, spec["name"]
            expected[spec["name"]] = spec["remotes"][0] if spec["remotes"] else ""
    assert expected["io.github.acme/crm"] == "https://mcp.acme.example/crm/mcp"
    assert expected["io.github.modelcontextprotocol/fetch"] == ""
    for server, resource in Grant.objects.values_list("server__name", "resource"):
        assert resource == expected[server], server
