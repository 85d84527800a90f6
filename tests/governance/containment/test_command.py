"""`manage.py revoke`: the dry run prints the plan and changes nothing; a real run revokes at
the IdP inline, with the record naming the OS user and the command. Against the scripted
authorization server, and end to end against oidc-provider (a real one)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from governance.access.models import AdminAction
from governance.containment.models import Revocation
from inventory.models import Grant
from tests.governance.connectors.peers import start_oauth_peer
from tests.governance.containment.conftest import (
    client_credentials,
    inventory,
    oauth_connection,
    oidc_connection,
    oidc_inventory,
)
from tests.governance.containment.peer import RevocationPeer, grant_record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def peer():
    server = RevocationPeer([grant_record("g-1"), grant_record("g-2")]).start()
    yield server
    server.stop()


def revoke(*args) -> str:
    out = io.StringIO()
    call_command("revoke", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_dry_run_prints_the_plan_and_changes_nothing(peer):
    oauth_connection(peer.url, grants_url=f"{peer.url}/admin/grants")
    rows = inventory(peer.url, ["g-1", "g-2"])

    out = revoke("identity", str(rows.alice.pk), "--client", str(rows.agent.pk), "--dry-run")

    assert "plan (identity_client): 2 grant(s), 0 token(s)" in out
    assert "IdPs: local-as" in out
    # One call for everything alice gave the agent (the grants route's user-client delete).
    assert "1. call   Revoke all of alice → agent at local-as" in out
    assert "verify Nothing of alice → agent at local-as listed any more" in out
    assert "dry run: nothing was changed" in out
    assert not Revocation.objects.exists() and not peer.deletes


def test_a_bulk_run_revokes_inline_and_is_recorded_as_the_command(peer):
    oauth_connection(peer.url, grants_url=f"{peer.url}/admin/grants")
    inventory(peer.url, ["g-1", "g-2"])

    out = revoke("bulk", "--filter", f"issuer={peer.url}", "--reason", "quarterly cleanup")

    revocation = Revocation.objects.get()
    assert (revocation.status, revocation.outcome, revocation.proof) == ("done", "done", "verified")
    assert f"revocation #{revocation.pk} (Bulk revoke of matching grants): done" in out
    assert "grant g-1 is no longer listed by the IdP" in out
    assert peer.deletes == {"g-1": 1, "g-2": 1}
    assert set(Grant.objects.values_list("status", flat=True)) == {"revoked"}
    record = AdminAction.objects.get(action="revocation.start")
    assert "(manage.py revoke)" in record.actor_repr


def test_the_command_names_what_is_wrong(peer):
    oauth_connection(peer.url, grants_url=f"{peer.url}/admin/grants")
    rows = inventory(peer.url, ["g-1"])
    with pytest.raises(CommandError, match="reason"):
        revoke("grant", str(rows.grants[0].pk))
    with pytest.raises(CommandError, match="unused_days"):
        revoke("bulk", "--filter", "unused_days=soon", "--reason", "x")
    with pytest.raises(CommandError, match="no grant has the id 999999"):
        revoke("grant", "999999", "--reason", "x")


@pytest.fixture(scope="module")
def oidc_peer():
    yield from start_oauth_peer()


def test_at_oidc_provider_the_dry_run_touches_nothing_and_the_run_revokes_and_proves_it(
    oidc_peer,
):
    oidc_connection(oidc_peer)
    agent, (grant,) = oidc_inventory(oidc_peer, "agent", ["dana"])
    made = oidc_peer.connector().grants_for("dana", "agent")
    assert [g.idp_id for g in made] == [grant.external_id]
    identity = grant.subject

    out = revoke("identity", str(identity.pk), "--client", str(agent.pk), "--dry-run")

    assert "plan (identity_client): 1 grant(s), 1 token(s)" in out
    assert "1. call   Revoke all of dana → agent at local-as" in out
    assert "dry run: nothing was changed" in out
    assert not Revocation.objects.exists()
    assert [g.idp_id for g in oidc_peer.connector().grants_for("dana", "agent")] == [
        grant.external_id
    ]

    out = revoke("identity", str(identity.pk), "--client", str(agent.pk), "--reason", "offboarding")

    revocation = Revocation.objects.get()
    assert (revocation.outcome, revocation.proof) == ("done", "verified")
    assert f"revocation #{revocation.pk} (Revoke what an identity granted a client): done" in out
    assert "the IdP lists nothing dana gave agent" in out
    assert oidc_peer.connector().grants_for("dana", "agent") == []
    assert Grant.objects.get(pk=grant.pk).status == "revoked"
    record = AdminAction.objects.get(action="revocation.start")
    assert "(manage.py revoke)" in record.actor_repr


def test_at_oidc_provider_the_kill_switch_and_its_undo_from_the_command_line(oidc_peer):
    oidc_connection(oidc_peer)
    tool_agent, _ = oidc_inventory(oidc_peer, "tool-agent", ["erin"])

    out = revoke("client", str(tool_agent.pk), "--dry-run")
    assert "1. call   Deactivate tool-agent at local-as" in out
    assert client_credentials(oidc_peer, "tool_agent").status_code == 200

    out = revoke("client", str(tool_agent.pk), "--reason", "agent exfiltrating")

    kill = Revocation.objects.get(action="client")
    assert (kill.outcome, kill.proof) == ("done", "verified")
    assert "the IdP lists tool-agent as inactive" in out
    refused = client_credentials(oidc_peer, "tool_agent")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"

    out = revoke("undo", str(kill.pk), "--reason", "false alarm")

    undo = Revocation.objects.get(action="undo")
    assert f"revocation #{undo.pk} (Undo (reactivate)): done" in out
    assert "the IdP lists tool-agent as active" in out
    assert client_credentials(oidc_peer, "tool_agent").status_code == 200
    assert AdminAction.objects.filter(action="revocation.undo").count() == 1
