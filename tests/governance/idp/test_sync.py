"""IdP syncs end to end: the `oauth` kind against oidc-provider (a real authorization server)
and a scripted grants server; the ledger's writes, vanishing, content hashes, the command and
beat's tick."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection as db_connection
from django.utils import timezone

from governance.access import secrets
from governance.idp.models import IdpConnection, IdpSync
from governance.idp.sync import start_due_syncs, start_sync
from governance.platform import jobs
from inventory.models import Client, Grant, Identity
from tests.governance.connectors.peers import start_oauth_peer
from tests.governance.idp.conftest import oauth_connection

pytestmark = pytest.mark.django_db(transaction=True)


def sync_now(connection: IdpConnection, *, full: bool = False) -> IdpSync:
    """Start a sync and run it here, as a worker would."""
    sync = start_sync(connection=connection, full=full, enqueue=False)
    jobs.execute(IdpSync, sync.pk)
    sync.refresh_from_db()
    return sync


@pytest.fixture(scope="module")
def oidc_peer():
    yield from start_oauth_peer()


def test_a_sync_of_a_real_authorization_server_brings_its_grant_into_the_ledger(oidc_peer):
    connection = IdpConnection.objects.create(
        name="oidc",
        kind="oauth",
        config=oidc_peer.config,
        secret_encrypted=secrets.encrypt(oidc_peer.secret),
    )

    sync = sync_now(connection, full=True)

    assert sync.status == "done", sync.error_log
    facts = oidc_peer.facts
    grant = Grant.objects.get(issuer=oidc_peer.config["issuer"], external_id=facts["grant_id"])
    assert grant.subject.subject == facts["subject"]
    assert grant.client.client_id == facts["client_id"]
    assert grant.seen_from == "idp" and grant.vanished_at is None
    assert grant.raw["id"] == facts["grant_id"] and len(grant.content_hash) == 64
    assert (sync.seen, sync.created) == (1, 1)
    # the oauth kind lists no identities or clients: said, not silently empty
    assert set(sync.summary["not_supported"]) == {"identities", "clients"}


def test_a_grant_deleted_at_the_authorization_server_is_marked_vanished_not_deleted(oidc_peer):
    connection = IdpConnection.objects.create(
        name="oidc-vanish",
        kind="oauth",
        config=oidc_peer.config,
        secret_encrypted=secrets.encrypt(oidc_peer.secret),
    )
    assert sync_now(connection, full=True).created == 1
    connector = oidc_peer.connector()
    [listed] = [g for g in connector.list_grants() if g.idp_id == oidc_peer.facts["grant_id"]]
    connector.revoke(listed)  # DELETE on the peer's admin route

    sync = sync_now(connection, full=True)

    grant = Grant.objects.get(external_id=oidc_peer.facts["grant_id"])
    assert grant.vanished_at is not None
    assert sync.vanished == 1 and sync.status == "done"


def test_grants_land_with_their_subjects_and_clients_page_by_page(grants_server):
    connection = oauth_connection(grants_server.url)

    sync = sync_now(connection)

    assert sync.status == "done", sync.error_log
    assert (sync.seen, sync.created, sync.changed, sync.skipped) == (25, 25, 0, 0)
    assert sync.records == 25 and sync.pages >= 1
    assert Grant.objects.filter(issuer="https://as.example").count() == 25
    assert Identity.objects.filter(issuer="https://as.example").count() == 5
    assert Client.objects.filter(client_id__startswith="agent-").count() == 3
    grant = Grant.objects.get(external_id="grant-7")
    assert grant.subject.subject == "user-2" and grant.client.client_id == "agent-1"
    assert grant.scopes == ["openid", "mcp:tools"]
    assert grant.issued_at is not None


def _row_versions(table: str) -> dict:
    """Each row's xmin and xmax: a write (or a row lock, which ON CONFLICT DO UPDATE takes even
    when its WHERE skips the row) changes one of them."""
    with db_connection.cursor() as cursor:
        cursor.execute(f"SELECT id, xmin::text, xmax::text FROM {table}")
        return {pk: (xmin, xmax) for pk, xmin, xmax in cursor.fetchall()}


def test_an_unchanged_resync_writes_nothing(grants_server):
    connection = oauth_connection(grants_server.url)
    sync_now(connection)
    before = {t: _row_versions(t) for t in ("inventory_grant", "inventory_identity")}

    again = sync_now(connection)

    assert (again.seen, again.created, again.changed) == (25, 0, 0)
    assert {t: _row_versions(t) for t in ("inventory_grant", "inventory_identity")} == before


def test_the_job_sweeper_covers_idp_syncs():
    assert "governance.IdpSync" in jobs.sweep_jobs()


def test_the_command_refuses_a_disabled_connection(grants_server):
    oauth_connection(grants_server.url, name="off", enabled=False)

    with pytest.raises(CommandError, match="disabled"):
        call_command("sync_idp", "off")
    assert not IdpSync.objects.exists()


def test_a_changed_record_is_rewritten_and_counted_changed(grants_server):
    connection = oauth_connection(grants_server.url)
    sync_now(connection)
    grants_server.grants[4] = {**grants_server.grants[4], "scope": "openid admin:all"}

    again = sync_now(connection)

    assert (again.created, again.changed) == (0, 1)
    assert Grant.objects.get(external_id="grant-4").scopes == ["openid", "admin:all"]


def test_a_vanished_grant_seen_again_is_no_longer_vanished(grants_server):
    connection = oauth_connection(grants_server.url)
    sync_now(connection, full=True)
    gone = grants_server.grants.pop(0)

    first = sync_now(connection, full=True)
    grants_server.grants.append(gone)
    second = sync_now(connection, full=True)

    assert first.vanished == 1
    assert second.vanished == 0 and second.changed == 1
    assert Grant.objects.get(external_id=gone["id"]).vanished_at is None
    assert Grant.objects.filter(vanished_at__isnull=False).count() == 0


def test_vanishing_spares_grants_of_other_issuers_and_grants_not_from_a_sync(grants_server):
    connection = oauth_connection(grants_server.url)
    sync_now(connection)
    other = oauth_connection(grants_server.url, name="other", issuer="https://other.example")
    sync_now(other)
    grants_server.grants.clear()

    sync_now(connection, full=True)

    assert Grant.objects.filter(issuer="https://as.example", vanished_at__isnull=False).count()
    assert not Grant.objects.filter(issuer="https://other.example", vanished_at__isnull=False)


def test_a_malformed_record_is_skipped_and_reported_and_the_rest_synced(grants_server):
    grants_server.grants[4] = {"id": "broken", "subject": "user-1"}  # no client_id
    grants_server.grants[9] = {**grants_server.grants[9], "grant_type": "telepathy"}
    connection = oauth_connection(grants_server.url)

    sync = sync_now(connection)

    assert sync.status == "done"
    assert (sync.seen, sync.created, sync.skipped) == (25, 23, 2)
    messages = " ".join(entry["message"] for entry in sync.error_log)
    assert "no client_id" in messages and "telepathy" in messages
    assert not Grant.objects.filter(external_id="broken").exists()


def test_a_listed_grant_whose_record_turned_malformed_is_skipped_but_not_vanished(grants_server):
    connection = oauth_connection(grants_server.url)
    sync_now(connection, full=True)
    grants_server.grants[2] = {**grants_server.grants[2], "client_id": ""}

    sync = sync_now(connection, full=True)

    assert (sync.skipped, sync.vanished) == (1, 0)
    assert Grant.objects.get(external_id="grant-2").vanished_at is None


def test_the_command_runs_a_sync_inline_and_prints_its_counts(grants_server, capsys):
    oauth_connection(grants_server.url, name="cli")

    call_command("sync_idp", "cli", "--full")

    out = capsys.readouterr().out
    assert "done" in out and "seen 25, created 25" in out
    sync = IdpSync.objects.get(connection__name="cli")
    assert sync.requested_by == "command" and sync.full


def test_beat_starts_a_sync_of_each_connection_whose_interval_has_passed(grants_server):
    due = oauth_connection(grants_server.url, name="due", sync_interval_minutes=30)
    recent = oauth_connection(grants_server.url, name="recent", issuer="https://r.example")
    oauth_connection(
        grants_server.url, name="manual", issuer="https://m.ex", sync_interval_minutes=0
    )
    oauth_connection(grants_server.url, name="off", issuer="https://o.ex", enabled=False)
    old = IdpSync.objects.create(
        connection=due, queued_at=timezone.now() - timedelta(minutes=31), status="done"
    )
    IdpSync.objects.create(connection=recent, queued_at=timezone.now(), status="done")

    started = start_due_syncs()

    assert [sync.connection.name for sync in started] == ["due"]
    assert started[0].pk != old.pk and started[0].requested_by == "beat"
    assert start_due_syncs() == []  # the one just queued is recent


def test_beat_schedules_the_tick():
    entry = settings.CELERY_BEAT_SCHEDULE["start-due-idp-syncs"]
    assert entry["task"] == "governance.start_due_idp_syncs"


def test_the_vanish_pass_writes_only_the_grants_that_vanished(grants_server):
    connection = oauth_connection(grants_server.url)
    sync_now(connection, full=True)
    gone = grants_server.grants.pop(3)
    before = _row_versions("inventory_grant")

    again = sync_now(connection, full=True)

    after = _row_versions("inventory_grant")
    vanished = Grant.objects.get(external_id=gone["id"])
    assert again.vanished == 1 and vanished.vanished_at is not None
    assert {pk for pk in before if after[pk] != before[pk]} == {vanished.pk}


def test_a_grant_seen_over_a_day_ago_has_its_last_seen_refreshed_by_an_unchanged_sync(
    grants_server,
):
    connection = oauth_connection(grants_server.url)
    sync_now(connection)
    long_ago = timezone.now() - timedelta(days=2)
    Grant.objects.filter(external_id="grant-7").update(last_seen=long_ago)

    again = sync_now(connection)

    assert (again.created, again.changed) == (0, 1)
    assert Grant.objects.get(external_id="grant-7").last_seen > long_ago


def test_a_grant_stored_with_another_hash_is_rewritten_once(grants_server):
    connection = oauth_connection(grants_server.url)
    sync_now(connection)
    Grant.objects.filter(external_id="grant-2").update(content_hash="0" * 64)

    again, third = sync_now(connection), sync_now(connection)

    assert (again.changed, third.changed) == (1, 0)
    assert Grant.objects.get(external_id="grant-2").content_hash != "0" * 64
