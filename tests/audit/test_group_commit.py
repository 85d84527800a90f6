"""Group commit: concurrent small requests of one process share one database call and commit,
and each still gets its own exact answer (audit/services/group_commit.py)."""

import threading
import time

import pytest
from django.db import DatabaseError, connections

from audit.models import AuditEvent, EventBatch
from audit.services import group_commit, ingest
from audit.services.chain import verify_chain
from audit.services.ingest import ingest_events
from audit.services.seal import seal_pending
from audit.services.sources import create_source
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def one_flusher(settings):
    """The scripted tests below hold the only flusher; the last test uses two."""
    settings.AUDIT_GROUP_COMMIT_FLUSHERS = 1


def _hold_first_flush_until_queued(monkeypatch, queued: int, fail_merged=False):
    """The first flush waits until `queued` other requests are queued behind it, so the next
    flush deterministically merges them; with fail_merged that merged call fails."""
    real = ingest._store_with_retries
    calls = []

    def store(source_id, rows, want_fresh, reports=()):
        calls.append(len(rows))
        if len(calls) == 1:
            for _ in range(500):
                if len(group_commit._queue) >= queued:
                    break
                threading.Event().wait(0.01)
        elif fail_merged:
            raise DatabaseError("storage went away")
        return real(source_id, rows, want_fresh, reports)

    monkeypatch.setattr(ingest, "_store_with_retries", store)
    return calls


def _send_concurrently(source, batches):
    """`source` is the source of every request, or a list with one per request."""
    sources = source if isinstance(source, list) else [source] * len(batches)
    results, errors = [None] * len(batches), [None] * len(batches)

    def send(i):
        try:
            results[i] = ingest_events(source=sources[i], events=batches[i])
        except Exception as exc:  # noqa: BLE001 - asserted by the tests
            errors[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(batches))]
    threads[0].start()
    # The others start once the first leads: it holds the flusher slot and has taken its group
    # off the queue (a fixed pause lost the race now and then on a loaded machine).
    deadline = time.monotonic() + 10
    while not (group_commit._flushing and not group_commit._queue) and time.monotonic() < deadline:
        threading.Event().wait(0.002)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_concurrent_requests_share_a_commit_and_each_gets_its_own_counts(monkeypatch):
    source, _ = create_source(name="gw-group")
    calls = _hold_first_flush_until_queued(monkeypatch, queued=7)
    shared = make_event()  # sent by two requests of the same group: stored once
    batches = [[make_event()]] + [[make_event(), make_event()] for _ in range(7)]
    batches[3].append(dict(shared))
    batches[5].append(dict(shared))
    batches[6].append(dict(batches[0][0]))  # already stored by the first flush

    results, errors = _send_concurrently(source, batches)

    assert errors == [None] * 8
    assert calls == [1, 16], "the seven queued requests were merged into one call"
    # `shared` is stored for whichever of requests 3 and 5 was queued first, a duplicate for
    # the other; request 6's copy of the first flush's event is a duplicate.
    accepted, duplicates = [r.accepted for r in results], [r.duplicates for r in results]
    assert accepted[3] + accepted[5] == 5 and duplicates[3] + duplicates[5] == 1
    assert [accepted[i] for i in (0, 1, 2, 4, 6, 7)] == [1, 2, 2, 2, 2, 2]
    assert [duplicates[i] for i in (0, 1, 2, 4, 6, 7)] == [0, 0, 0, 0, 1, 0]
    assert AuditEvent.objects.filter(source=source).count() == 16
    assert AuditEvent.objects.filter(event_id=shared["id"]).count() == 1
    assert EventBatch.objects.filter(source=source).count() == 2
    seal_pending()
    run = verify_chain()
    assert run.ok and run.events_checked == 16, run.problem


def test_a_group_of_two_sources_stores_and_deduplicates_per_source(monkeypatch):
    one, _ = create_source(name="gw-group-one")
    two, _ = create_source(name="gw-group-two")
    calls = _hold_first_flush_until_queued(monkeypatch, queued=3)
    same = make_event()  # one id from both sources: a duplicate within a source only
    batches = [[make_event()], [dict(same)], [dict(same)], [dict(same)]]

    results, errors = _send_concurrently([one, one, two, one], batches)

    assert errors == [None] * 4
    assert calls == [1, 1, 1], "the queued group was stored with one call per source"
    assert results[1].accepted + results[3].accepted == 1
    assert results[1].duplicates + results[3].duplicates == 1
    assert (results[2].accepted, results[2].duplicates) == (1, 0)
    stored = AuditEvent.objects.filter(event_id=same["id"]).values_list("source_id", flat=True)
    assert sorted(stored) == sorted([one.pk, two.pk])
    seal_pending()
    run = verify_chain()
    assert run.ok and run.events_checked == 3, run.problem


def test_a_failed_group_acknowledges_none_of_its_requests(monkeypatch):
    source, _ = create_source(name="gw-group-fail")
    _hold_first_flush_until_queued(monkeypatch, queued=3, fail_merged=True)
    batches = [[make_event()] for _ in range(4)]

    results, errors = _send_concurrently(source, batches)

    assert errors[0] is None and results[0].accepted == 1
    assert all(isinstance(e, DatabaseError) for e in errors[1:]), errors
    stored = set(AuditEvent.objects.filter(source=source).values_list("event_id", flat=True))
    assert stored == {batches[0][0]["id"]}
    assert group_commit._queue == [] and group_commit._flushing == 0


def test_task_reports_in_a_group_advance_their_tasks(monkeypatch):
    from inventory.models import Task, TaskStatusChange

    source, _ = create_source(name="gw-group-tasks")
    _hold_first_flush_until_queued(monkeypatch, queued=3)
    created = make_event(method="tools/call", task={"id": "t-1", "status": "working", "ttl": 60000})
    done = make_event(
        method="notifications/tasks/status", task={"id": "t-1", "status": "completed"}
    )
    batches = [[make_event()], [created], [make_event()], [dict(created), done]]

    results, errors = _send_concurrently(source, batches)

    assert errors == [None] * 4
    # `created` counts for whichever of requests 1 and 3 was queued first
    assert sum(r.accepted for r in results) == 4
    assert results[1].duplicates + results[3].duplicates == 1
    task = Task.objects.get(task_id="t-1")
    assert task.status == "completed"
    assert list(
        TaskStatusChange.objects.filter(task=task)
        .order_by("at", "id")
        .values_list("to_status", flat=True)
    ) == ["working", "completed"]


def test_a_lone_request_is_stored_at_once_without_waiting_for_company():
    source, _ = create_source(name="gw-alone")
    result = ingest_events(source=source, events=[make_event()])
    assert result.accepted == 1 and EventBatch.objects.filter(source=source).count() == 1


def test_with_two_flushers_two_groups_are_stored_at_once_and_never_more(settings, monkeypatch):
    settings.AUDIT_GROUP_COMMIT_FLUSHERS = 2
    monkeypatch.setattr(group_commit, "_last_group", 0)  # small groups so far: a 2nd may start
    source, _ = create_source(name="gw-two-flushers")
    real = ingest._store_with_retries
    lock, state = threading.Lock(), {"now": 0, "max": 0, "calls": 0}

    def store(source_id, rows, want_fresh, reports=()):
        with lock:
            state["now"] += 1
            state["calls"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            threading.Event().wait(0.02)  # a slow disk: groups overlap
            return real(source_id, rows, want_fresh, reports)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(ingest, "_store_with_retries", store)
    batches = [[make_event()] for _ in range(24)]
    results, errors = [None] * 24, [None] * 24

    def send(i):
        try:
            results[i] = ingest_events(source=source, events=batches[i])
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == [None] * 24 and all(r.accepted == 1 for r in results)
    assert state["max"] == 2, state
    assert state["calls"] < 24, "requests arriving during a flush were grouped"
    assert group_commit._flushing == 0 and group_commit._queue == []
    assert AuditEvent.objects.filter(source=source).count() == 24


def test_a_second_flusher_starts_only_while_groups_are_small(settings, monkeypatch):
    settings.AUDIT_GROUP_COMMIT_FLUSHERS = 2
    started = []
    release = threading.Event()

    def store(source_id, rows, want_fresh, reports=()):
        started.append(len(rows))
        release.wait(5)
        return len(rows), 1, list(range(len(rows)))

    monkeypatch.setattr("audit.services.seal.seal_after_ingest", lambda **kwargs: None)
    for group_in_flight, expected_leaders in (
        (group_commit.SMALL_GROUP + 1, 1),
        (group_commit.SMALL_GROUP, 2),
    ):
        started.clear()
        release.clear()
        first = threading.Thread(target=group_commit.submit, args=(1, [(0, "a")], [], store))
        second = threading.Thread(target=group_commit.submit, args=(1, [(0, "b")], [], store))
        try:
            first.start()
            while not started:
                threading.Event().wait(0.005)
            group_commit._last_group = group_in_flight  # as if the first group were this big
            second.start()
            if expected_leaders == 2:  # wait for it, however loaded the machine
                deadline = time.monotonic() + 10
                while len(started) < 2 and time.monotonic() < deadline:
                    threading.Event().wait(0.005)
            else:  # give it the time it would need to (wrongly) start
                threading.Event().wait(0.1)
            assert len(started) == expected_leaders, (group_in_flight, started)
        finally:
            release.set()
            first.join(5), second.join(5)
        assert group_commit._flushing == 0 and group_commit._queue == []
