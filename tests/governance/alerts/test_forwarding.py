"""The event forwarder with a recording transport: events of sealed batches in chain order, from
the destination's cursor, which moves only after the receiver took them; a failure leaves it (and
says why), a new destination starts at the chain head, and the lag says how far behind it is."""

from __future__ import annotations

import re

import pytest

from audit.services.ingest import ingest_events
from audit.services.seal import seal_pending
from audit.services.sources import create_source
from governance.alerts import forwarding
from governance.alerts.forwarding import forward, lag, start_cursor
from governance.alerts.models import ForwardCursor
from governance.alerts.transports import DeliveryFailed
from tests.governance.alerts.engine_helpers import destination
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db


class Receiver:
    def __init__(self):
        self.requests = []
        self.down = False

    def __call__(self, destination, events):
        if self.down:
            raise DeliveryFailed("connection refused", retryable=True)
        self.requests.append([e["event_id"] for e in events])
        self.last = events

    @property
    def event_ids(self):
        return [i for request in self.requests for i in request]


@pytest.fixture
def source():
    return create_source(name="gateway")[0]


def store(source, n, prefix):
    ids = [f"{prefix}-{i:03d}" for i in range(n)]
    ingest_events(source=source, events=[make_event(id=i) for i in ids])
    seal_pending()
    return ids


def forwarding_destination():
    return destination("stream", forward_events=True, send_findings=False)


def test_events_go_in_chain_order_from_the_cursor_and_each_once(source, settings):
    settings.FORWARD_BATCH_EVENTS = 50
    dest = forwarding_destination()
    start_cursor(dest)  # at the head: what is stored from now on
    first = store(source, 30, "a")
    second = store(source, 40, "b")  # two batches of 30 + 40: more than 50, two sends
    receiver = Receiver()

    assert forward(dest.pk, transport=receiver)["events"] == 70
    assert receiver.event_ids == first + second
    assert [len(r) for r in receiver.requests] == [30, 40]
    event = receiver.last[0]  # the stored row, times as RFC 3339 UTC with milliseconds
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["time"])
    assert event["payload"]["id"] == second[0] and event["source_id"] == source.pk
    cursor = ForwardCursor.objects.get()
    assert cursor.events_forwarded == 70 and cursor.last_forwarded_at is not None
    assert forward(dest.pk, transport=receiver)["events"] == 0  # nothing is sent twice
    assert lag(dest)["events_behind"] == 0


def test_a_batch_larger_than_one_send_is_split_and_the_cursor_moves_after_all_of_it(
    source, settings
):
    settings.FORWARD_BATCH_EVENTS = 25
    dest = forwarding_destination()
    start_cursor(dest)
    ids = store(source, 60, "big")
    receiver = Receiver()

    forward(dest.pk, transport=receiver)

    assert [len(r) for r in receiver.requests] == [25, 25, 10]
    assert receiver.event_ids == sorted(ids)  # ids were given in order: stored in order


def test_a_failure_leaves_the_cursor_records_the_error_and_the_next_run_sends_everything(source):
    dest = forwarding_destination()
    start_cursor(dest)
    ids = store(source, 10, "x")
    receiver = Receiver()
    receiver.down = True

    assert forward(dest.pk, transport=receiver)["error"] == "connection refused"
    behind = lag(dest)
    assert (behind["events_behind"], behind["batches_behind"]) == (10, 1)
    assert behind["last_error"] == "connection refused" and behind["last_error_at"]

    receiver.down = False
    forward(dest.pk, transport=receiver)
    assert receiver.event_ids == ids
    assert lag(dest)["last_error"] == ""


def test_a_new_destination_starts_at_the_chain_head(source):
    store(source, 5, "old")
    dest = forwarding_destination()
    receiver = Receiver()

    forward(dest.pk, transport=receiver)  # the first run makes the cursor at the head
    new = store(source, 3, "new")
    forward(dest.pk, transport=receiver)

    assert receiver.event_ids == new


def test_a_cursor_that_moved_meanwhile_is_not_moved_back_or_past(source, monkeypatch):
    dest = forwarding_destination()
    start_cursor(dest)
    store(source, 4, "r")
    head = ForwardCursor.objects.get().batch_seq + 1
    read = forwarding._read_events

    def another_run_finished_first(batches):
        events = read(batches)
        ForwardCursor.objects.update(batch_seq=head)  # between our read and our cursor move
        return events

    monkeypatch.setattr(forwarding, "_read_events", another_run_finished_first)
    receiver = Receiver()
    forward(dest.pk, transport=receiver)

    cursor = ForwardCursor.objects.get()
    assert (cursor.batch_seq, cursor.events_forwarded) == (head, 0)


def test_only_enabled_forwarding_destinations_are_fanned_out():
    on = forwarding_destination()
    destination("off", forward_events=True, enabled=False)
    destination("findings-only")
    assert forwarding.destinations_to_forward() == [on.pk]


def test_switching_forwarding_on_starts_the_stream_at_the_chain_head(source, admin_user):
    from governance.alerts import services

    store(source, 5, "before")
    dest = services.create_destination(
        actor=admin_user,
        kind="webhook",
        values={"name": "stream", "url": "https://siem.example/hook", "forward_events": True},
        secret="whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )

    assert lag(dest)["started"] and lag(dest)["events_behind"] == 0
    later = store(source, 2, "after")
    receiver = Receiver()
    forward(dest.pk, transport=receiver)
    assert receiver.event_ids == later


def test_a_crash_after_the_receiver_took_the_events_resends_them_and_skips_none(
    source, monkeypatch
):
    dest = forwarding_destination()
    start_cursor(dest)
    ids = store(source, 6, "c")
    receiver = Receiver()
    advance = forwarding._advance

    def dies_before_moving_the_cursor(*args):
        raise SystemExit("worker killed")  # between the receiver's yes and the cursor UPDATE

    monkeypatch.setattr(forwarding, "_advance", dies_before_moving_the_cursor)
    with pytest.raises(SystemExit):
        forward(dest.pk, transport=receiver)
    monkeypatch.setattr(forwarding, "_advance", advance)
    more = store(source, 2, "d")
    forward(dest.pk, transport=receiver)

    assert receiver.requests == [ids, ids + more]  # the same event ids again, then on
    assert ForwardCursor.objects.get().events_forwarded == 8
