"""The kill switch and its undo, run in this process against the scripted authorization server:
the client deactivated at its IdP (and proven inactive), its grants revoked, blocked in the
inventory with a cut-off time; the undo reactivates and unblocks, recorded alike."""

from __future__ import annotations

import pytest

from governance.access.models import AdminAction
from governance.containment import queries, services
from governance.containment.models import Revocation
from governance.platform import jobs
from inventory.models import Client, Grant, Task
from tests import ui_factories as f
from tests.governance.containment.conftest import inventory, oauth_connection
from tests.governance.containment.peer import RevocationPeer, grant_record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def peer():
    server = RevocationPeer([grant_record("g-1"), grant_record("g-2", subject="bob")]).start()
    yield server
    server.stop()


def run(revocation) -> Revocation:
    jobs.execute(Revocation, revocation.pk)
    revocation.refresh_from_db()
    return revocation


def test_the_kill_switch_deactivates_revokes_blocks_and_the_undo_reactivates(
    admin_user, peer, deactivating_oauth
):
    oauth_connection(peer.url, grants_url=f"{peer.url}/admin/grants")
    rows = inventory(peer.url, ["g-1"])
    bob_grant = inventory(peer.url, ["g-2"], subject="bob").grants[0]
    server = f.server("io.github.acme/crm")
    running = f.task("t-1", server=server, client=rows.agent, status="working")
    f.task("t-2", server=server, client=rows.agent, status="completed")
    kill = services.start_revocation(
        actor=admin_user,
        action="client",
        client=rows.agent,
        reason="agent exfiltrating",
        enqueue=False,
    )
    kill = run(kill)

    assert "agent" in peer.inactive_clients
    assert peer.deletes == {"g-1": 1, "g-2": 1}
    verify = kill.steps.get(operation="verify_client_inactive")
    assert verify.verified and verify.evidence == "the IdP lists agent as inactive"
    # The oauth kind has no client-grants call: said on the step, and the outcome is partial.
    assert kill.steps.get(operation="revoke_client_grants").state == "skipped"
    assert kill.outcome == "partial" and kill.proof == "verified"
    client = Client.objects.get(pk=rows.agent.pk)
    assert client.review_status == "blocked" and client.cut_off_at is not None
    assert set(
        Grant.objects.filter(pk__in=[rows.grants[0].pk, bob_grant.pk]).values_list(
            "status", flat=True
        )
    ) == {"revoked"}
    assert queries.undoable(kill)
    # Its running task outlives the revocation: marked orphaned, its owner must act.
    assert kill.plan["tasks"] == 1
    running.refresh_from_db()
    assert running.orphaned_by_revocation == kill.pk and running.orphaned_at is not None
    assert running.owner_action == "needs_owner_action"
    assert Task.objects.filter(orphaned_at__isnull=False).count() == 1
    assert list(queries.revocations_touching(grant=bob_grant)) == [kill]

    undo = run(services.undo_revocation(actor=admin_user, revocation=kill, reason="false alarm"))

    assert undo.action == "undo" and undo.undoes == kill
    assert undo.outcome == "done" and undo.proof == "verified"
    assert "agent" not in peer.inactive_clients
    client.refresh_from_db()
    assert client.review_status == "unreviewed" and client.cut_off_at is None
    assert AdminAction.objects.filter(action="revocation.undo", object_id=str(undo.pk)).exists()
    assert not queries.undoable(kill)
    with pytest.raises(ValueError, match="undone already"):
        services.undo_revocation(actor=admin_user, revocation=kill, reason="again")
    assert queries.progress(undo)["percent"] == 100
