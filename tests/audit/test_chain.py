"""Tamper evidence: verify_audit_chain names the first broken link for rows changed by raw SQL."""

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.models import AuditEvent, ChainVerification, EventBatch, EventSource
from audit.services.chain import verify_chain
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_batches():
    source, _ = create_source(name="gw-chain")
    batches = []
    for _ in range(3):
        events = [make_event() for _ in range(4)]
        result = ingest_events(source=source, events=events)
        batches.append((result.batch_id, events))
    return batches


def behind_the_apps_back(sql: str, params=()):
    """What an attacker with database access does: triggers off, then raw SQL."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_an_untouched_chain_verifies_and_the_run_is_recorded(three_batches):
    run = verify_chain(triggered_by="test")
    assert run.ok and run.batches_checked == 3 and run.events_checked == 12
    assert ChainVerification.objects.latest("started_at") == run


def test_batches_from_concurrent_writers_form_one_chain(three_batches):
    seqs = list(EventBatch.objects.order_by("seq").values_list("seq", "prev_digest", "digest"))
    assert [s for s, _, _ in seqs] == [1, 2, 3]
    assert seqs[1][1] == seqs[0][2] and seqs[2][1] == seqs[1][2]


def test_a_modified_event_is_named_as_the_first_broken_link(three_batches):
    batch_id, events = three_batches[1]
    behind_the_apps_back(
        "UPDATE audit_event SET payload = jsonb_set(payload::jsonb, '{tool}', '\"rm\"')::json "
        "WHERE event_id = %s",
        [events[2]["id"]],
    )
    run = verify_chain()
    assert not run.ok and run.first_broken_batch == batch_id
    assert "modified" in run.problem


def test_a_deleted_event_is_named(three_batches):
    batch_id, events = three_batches[0]
    behind_the_apps_back("DELETE FROM audit_event WHERE event_id = %s", [events[0]["id"]])
    run = verify_chain()
    assert not run.ok and run.first_broken_batch == batch_id and "deleted" in run.problem


def test_an_event_inserted_into_a_sealed_batch_is_named(three_batches):
    batch_id, events = three_batches[2]
    behind_the_apps_back(
        "INSERT INTO audit_event (time, received_at, source_id, batch_id, event_id, type, payload) "
        "SELECT time, received_at, source_id, batch_id, 'forged', type, payload FROM audit_event "
        "WHERE event_id = %s",
        [events[0]["id"]],
    )
    run = verify_chain()
    assert not run.ok and run.first_broken_batch == batch_id and "inserted" in run.problem


def test_an_event_inserted_outside_any_batch_is_named(three_batches):
    behind_the_apps_back(
        "INSERT INTO audit_event (time, received_at, source_id, batch_id, event_id, type, payload) "
        "SELECT time, received_at, source_id, 987654321, 'forged', type, payload FROM audit_event "
        "LIMIT 1"
    )
    run = verify_chain()
    assert not run.ok and run.first_broken_batch == 987654321 and "'forged'" in run.problem


@pytest.mark.parametrize("which", [1, 2], ids=["middle", "last"])
def test_a_deleted_batch_record_breaks_the_chain(three_batches, which):
    batch_id, _ = three_batches[which]
    behind_the_apps_back("DELETE FROM audit_event WHERE batch_id = %s", [batch_id])
    behind_the_apps_back("DELETE FROM audit_eventbatch WHERE id = %s", [batch_id])
    run = verify_chain()
    assert not run.ok and "deleted" in run.problem


class _Undo(Exception):
    """Raised to roll one tampering back before the next."""


def test_a_change_to_any_stored_column_of_an_event_is_named(three_batches):
    """Every column of audit_event is in the hashed canonical row: the list is read from the
    table itself, so a column left out of canon.py (or added later without it) fails here."""
    batch_id, events = three_batches[1]
    change = {
        "text": "{c} = {c} || 'x'",
        "bigint": "{c} = {c} + 1000000",
        "timestamp with time zone": "{c} = {c} - interval '1 second'",
        "double precision": "{c} = coalesce({c}, 0) + 1",
        "boolean": "{c} = NOT {c}",
        "json": "{c} = '{{\"forged\": true}}'::json",
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'audit_event' ORDER BY ordinal_position"
        )
        columns = cursor.fetchall()
    assert len(columns) == 19
    for column, data_type in columns:
        with pytest.raises(_Undo), transaction.atomic():
            behind_the_apps_back(
                f"UPDATE audit_event SET {change[data_type].format(c=column)} WHERE event_id = %s",
                [events[1]["id"]],
            )
            run = verify_chain()
            assert not run.ok and run.first_broken_batch == batch_id, column
            raise _Undo
    assert verify_chain().ok


@pytest.mark.parametrize("deleted", [False, True], ids=["modified", "deleted"])
def test_events_changed_with_their_batch_record_rewritten_to_match_are_named(
    three_batches, deleted
):
    """The batch's count and content hash are sealed into its digest: recomputing them after
    changing the rows does not hide the change."""
    from audit.services.chain import _content

    batch_id, events = three_batches[1]
    if deleted:
        behind_the_apps_back("DELETE FROM audit_event WHERE event_id = %s", [events[0]["id"]])
    else:
        behind_the_apps_back(
            "UPDATE audit_event SET outcome = 'error' WHERE event_id = %s", [events[0]["id"]]
        )
    count, content = _content([batch_id])[batch_id]
    behind_the_apps_back(
        "UPDATE audit_eventbatch SET event_count = %s, content_hash = %s WHERE id = %s",
        [count, content, batch_id],
    )
    run = verify_chain()
    assert not run.ok and run.first_broken_batch == batch_id
    assert "batch record altered" in run.problem


def test_a_rewritten_previous_digest_link_is_named(three_batches):
    batch_id, _ = three_batches[2]
    behind_the_apps_back(
        "UPDATE audit_eventbatch SET prev_digest = %s WHERE id = %s", ["f" * 64, batch_id]
    )
    run = verify_chain()
    assert not run.ok and run.first_broken_batch == batch_id and "previous-digest" in run.problem


def test_since_skips_earlier_batches_but_checks_the_link_into_the_window(three_batches):
    behind_the_apps_back(
        "DELETE FROM audit_event WHERE event_id = %s", [three_batches[0][1][0]["id"]]
    )
    last = EventBatch.objects.get(pk=three_batches[2][0])
    assert verify_chain(since=last.received_at).ok
    assert not verify_chain().ok


def test_the_app_cannot_update_or_delete_an_event():
    source, _ = create_source(name="gw-ro")
    ingest_events(source=source, events=[make_event()])
    for sql in ("UPDATE audit_event SET type = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(DatabaseError, match="append-only"):
            with connection.cursor() as cursor, connection.cursor().connection.transaction():
                cursor.execute(sql)
    assert AuditEvent.objects.count() == 1


def test_verify_command_exits_nonzero_and_names_the_break(three_batches, capsys):
    batch_id, events = three_batches[1]
    behind_the_apps_back("DELETE FROM audit_event WHERE event_id = %s", [events[1]["id"]])
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit_chain")
    assert exit_info.value.code == 1
    assert f"batch {batch_id}" in capsys.readouterr().out


def test_verify_command_since_starts_at_the_batch_received_at_that_instant(three_batches, capsys):
    batch_id, events = three_batches[1]
    behind_the_apps_back("DELETE FROM audit_event WHERE event_id = %s", [events[0]["id"]])
    tampered, after = (
        EventBatch.objects.get(pk=pk).received_at for pk in (batch_id, three_batches[2][0])
    )
    with pytest.raises(SystemExit):
        call_command("verify_audit_chain", f"--since={tampered.isoformat()}")
    assert f"BROKEN: batch {batch_id} " in capsys.readouterr().out
    call_command("verify_audit_chain", f"--since={after.isoformat()}")
    assert capsys.readouterr().out.startswith("OK: audit chain intact (1 batches, 4 events")


@pytest.mark.django_db(transaction=True)
def test_since_is_not_fooled_by_a_batch_committed_after_a_later_one():
    """Batches are sealed in commit order, so a batch received earlier but committed later
    follows a later one in the chain: a window by received time is not a run of the chain,
    and `--since` must not take that for batches deleted."""
    import threading

    from django.db import connections

    from audit.services import ingest
    from audit.services.seal import seal_pending

    source, _ = create_source(name="gw-late-commit")
    stored, commit = threading.Event(), threading.Event()

    def store_and_commit_late():
        try:
            with transaction.atomic():
                # no actor, client or server: no derived row shared with the other batch
                bare = make_event(actor=None, client=None, server=None, method=None, tool=None)
                rows, _ = ingest.prepare([bare], ingest.IngestResult())
                ingest._ensure_stage()
                ingest._store(source.pk, rows, [])
                stored.set()
                commit.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=store_and_commit_late)
    thread.start()
    assert stored.wait(10)
    ingest_events(source=source, events=[make_event()])
    seal_pending()  # the other batch is not committed yet: this one is sealed first
    commit.set()
    thread.join()
    seal_pending()
    first, second = EventBatch.objects.order_by("seq")
    assert first.received_at > second.received_at
    assert verify_chain().ok
    run = verify_chain(since=first.received_at)
    assert run.ok and run.batches_checked == 2, run.problem


@pytest.mark.django_db(transaction=True)
def test_batches_ingested_concurrently_form_one_unbroken_chain():
    import threading

    from django.db import connections

    from audit.services.seal import seal_pending

    source, _ = create_source(name="gw-concurrent")
    errors = []

    def send():
        try:
            for _ in range(5):
                ingest_events(source=source, events=[make_event() for _ in range(20)])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seal_pending()
    seqs = sorted(EventBatch.objects.values_list("seq", flat=True))
    # Requests that arrive together may share a batch (group commit): 20 requests, <= 20 links.
    assert 1 <= len(seqs) <= 20 and seqs == list(range(1, len(seqs) + 1))
    run = verify_chain()
    assert run.ok and run.events_checked == 400, run.problem


def test_a_batch_whose_seal_was_lost_is_checked_and_then_sealed_by_the_sweeper():
    from audit.services import ingest
    from audit.tasks import seal_chain

    source, _ = create_source(name="gw-unsealed")
    result = ingest.IngestResult()
    rows, reports = ingest.prepare([make_event() for _ in range(3)], result)
    ingest._ensure_stage()
    _, batch_id, _ = ingest._store(source.pk, rows, reports)  # stored, as if the web died here
    assert EventBatch.objects.get(pk=batch_id).seq is None
    run = verify_chain()
    assert run.ok and run.events_checked == 3
    behind_the_apps_back(
        "UPDATE audit_event SET outcome = 'success!' WHERE batch_id = %s", [batch_id]
    )
    broken = verify_chain()
    assert not broken.ok and "not sealed yet" in broken.problem
    assert seal_chain() == 1 and EventBatch.objects.get(pk=batch_id).seq == 1


def test_sealing_inside_a_callers_transaction_leaves_its_commit_durable():
    """There the batch is sealed at once, in a savepoint: the sealer's asynchronous commit must
    not become the caller's, or the caller's acknowledged events could be lost in a crash."""
    source, _ = create_source(name="gw-in-transaction")
    result = ingest_events(source=source, events=[make_event()])
    assert EventBatch.objects.get(pk=result.batch_id).seq is not None
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_batches_sealed_while_a_verification_runs_are_not_reported_as_deleted(
    three_batches, monkeypatch
):
    """Sealing goes on during a run: a batch sealed after the run read the chain head is
    checked by content, not taken for a tail cut off the chain."""
    from audit.services import chain
    from audit.services.seal import seal_pending

    source = EventSource.objects.get(name="gw-chain")
    real_walk = chain._walk

    def walk_while_a_new_batch_is_stored_and_sealed(batches, prev, prev_seq):
        ingest_events(source=source, events=[make_event() for _ in range(2)])
        seal_pending()
        return real_walk(batches, prev, prev_seq)

    monkeypatch.setattr(chain, "_walk", walk_while_a_new_batch_is_stored_and_sealed)
    run = verify_chain()
    assert run.ok, run.problem
    monkeypatch.undo()
    run = verify_chain()
    assert run.ok and run.batches_checked == 4 and run.events_checked == 14
