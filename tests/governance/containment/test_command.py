"""`manage.py revoke`: the dry run prints the plan and changes nothing; a real run revokes at
the IdP inline, with the record naming the OS user and the command."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from governance.access.models import AdminAction
from governance.containment.models import Revocation
from inventory.models import Grant
from tests.governance.containment.conftest import inventory, oauth_connection
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
    assert "call   Revoke grant g-1 at local-as" in out
    assert "verify Grant g-2 no longer listed at local-as" in out
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
