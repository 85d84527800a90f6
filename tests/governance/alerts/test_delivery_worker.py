"""The engine on a real Celery worker against real receivers (tests/receivers): receivers down for
60 s lose nothing (every finding and every event arrives after), and a worker killed with SIGKILL
mid-send loses nothing either: the messages it had on the wire arrive again, each under its own
idempotency key, and no finding arrives under two keys.

The test plays the beat: it enqueues `dispatch` and `forward_tick` every TICK seconds, as
`celery beat` does every ALERTS_DISPATCH_INTERVAL_SECONDS / ALERTS_FORWARD_INTERVAL_SECONDS."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter

import pytest

from audit.services.ingest import ingest_events
from audit.services.seal import seal_pending
from audit.services.sources import create_source
from governance.access import secrets
from governance.alerts import tasks
from governance.alerts.forwarding import lag, start_cursor
from governance.alerts.models import Delivery, Destination
from tests.celery_worker import Worker, _wait_ready, start_worker
from tests.governance.alerts.engine_helpers import findings
from tests.ingest_helpers import make_event
from tests.receivers.fixtures import HEC_TOKEN, WEBHOOK_SECRET

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TICK = 0.5
WAIT = 120  # a bound for a shared machine, not an assertion


@pytest.fixture
def fast_retries(monkeypatch):
    """The worker's settings (read from the environment it inherits; requested before the
    worker starts): retries capped at 3 s, a claim taken again after 3 s."""
    monkeypatch.setenv("DELIVERY_BACKOFF_BASE_SECONDS", "0.5")
    monkeypatch.setenv("DELIVERY_BACKOFF_MAX_SECONDS", "3")
    monkeypatch.setenv("DELIVERY_CLAIM_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("DELIVERY_MAX_ATTEMPTS", "1000")
    monkeypatch.setenv("FORWARD_BATCH_EVENTS", "40")


@contextlib.contextmanager
def beat():
    """Enqueue the engine's two beat tasks every TICK seconds until the block ends."""
    stop = threading.Event()

    def run():
        while not stop.is_set():
            tasks.dispatch.delay()
            tasks.forward_tick.delay()
            stop.wait(TICK)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def webhook_destination(receiver, **kw) -> Destination:
    return Destination.objects.create(
        name="hook",
        kind=Destination.Kind.WEBHOOK,
        url=f"{receiver.url}/hook",
        secret_encrypted=secrets.encrypt(WEBHOOK_SECRET),
        min_severity="high",
        group_by=Destination.GroupBy.OBJECT,  # a message per finding: each one is traceable
        group_wait_seconds=0,
        **kw,
    )


def hec_stream(receiver) -> Destination:
    destination = Destination.objects.create(
        name="splunk",
        kind=Destination.Kind.SPLUNK_HEC,
        url=receiver.url,
        secret_encrypted=secrets.encrypt(HEC_TOKEN),
        send_findings=False,
        forward_events=True,
    )
    start_cursor(destination)
    return destination


def store_events(source, prefix: str, n: int) -> list[str]:
    ids = [f"{prefix}-{i:03d}" for i in range(n)]
    ingest_events(source=source, events=[make_event(id=i) for i in ids])
    seal_pending()
    return ids


def notified_findings(webhook_receiver) -> Counter:
    """How many times each finding id arrived at the webhook."""
    return Counter(
        f["id"] for r in webhook_receiver.received for f in r.payload["data"]["findings"]
    )


def wait_until(condition, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.2)
    return condition()


def test_receivers_down_for_60_seconds_get_every_finding_and_event_after(
    fast_retries, celery_worker, webhook_receiver, hec_receiver
):
    webhook_destination(webhook_receiver)
    hec_stream(hec_receiver)
    source = create_source(name="gateway")[0]
    webhook_receiver.down()
    hec_receiver.down()

    with beat():
        before = findings(3, prefix="before")
        events = store_events(source, "before", 50)
        time.sleep(30)
        during = findings(2, prefix="during")
        events += store_events(source, "during", 30)
        time.sleep(30)
        assert webhook_receiver.received == [] and hec_receiver.received == []
        failing = Delivery.objects.filter(status="pending")
        # Each tried more than once by now; a worker behind on a loaded machine gets longer.
        assert wait_until(lambda: failing.count() == 5 and min(d.attempts for d in failing) > 1)

        webhook_receiver.up()
        hec_receiver.up()
        sent = {f.pk for f in before + during}
        assert wait_until(lambda: set(notified_findings(webhook_receiver)) == sent)
        assert wait_until(lambda: len(hec_receiver.received) >= len(events))

    # The receiver notes a message before it answers; the worker records it after the answer.
    assert wait_until(
        lambda: set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    )
    assert notified_findings(webhook_receiver) == Counter({pk: 1 for pk in sent})
    forwarded = [item["event"]["event_id"] for item in hec_receiver.received]
    # None lost, none twice: refused connections deliver nothing, so nothing is re-sent.
    assert sorted(forwarded) == sorted(events)
    splunk = Destination.objects.get(name="splunk")
    assert wait_until(lambda: lag(splunk)["events_behind"] == 0)  # the cursor moves after the yes
    assert lag(splunk)["last_error"] == ""


class HeldWebhook:
    """Holds the first request it gets until `release` is set (the worker is mid-send)."""

    def __init__(self, receiver):
        self.receiver, self.holding, self.release = receiver, threading.Event(), threading.Event()
        self.original = receiver.handle

    def __enter__(self):
        def handle(method, path, headers, body):
            if not self.holding.is_set():
                self.holding.set()
                self.release.wait(WAIT)
            return self.original(method, path, headers, body)

        self.receiver.handle = handle
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.receiver.handle = self.original


def test_a_worker_killed_mid_send_loses_nothing_and_repeats_only_under_the_same_key(
    fast_retries, celery_worker, webhook_receiver, tmp_path
):
    webhook_destination(webhook_receiver)
    opened = findings(4)

    with HeldWebhook(webhook_receiver) as held, beat():
        assert held.holding.wait(WAIT)  # the worker is inside its first send
        celery_worker.process.kill()  # SIGKILL: no goodbye, the claim stays
        celery_worker.process.wait()
        held.release.set()  # the receiver takes the message the dead worker sent
        log_path = tmp_path / "celery-worker-2.log"
        process = start_worker(tmp_path / "worker-var", log_path)
        try:
            _wait_ready(process, log_path)
            sent = {f.pk for f in opened}
            assert wait_until(lambda: set(notified_findings(webhook_receiver)) == sent)
            assert wait_until(lambda: not Delivery.objects.exclude(status="delivered").exists())
            assert "governance.alerts.tasks.dispatch" in Worker(process, log_path).log()
        finally:
            process.kill()
            process.wait()

    keys = set(Delivery.objects.values_list("idempotency_key", flat=True))
    assert set(webhook_receiver.webhook_ids) == keys
    assert len(webhook_receiver.webhook_ids) > len(keys)  # what was on the wire came again...
    carried_by = {}
    for request in webhook_receiver.received:
        for finding in request.payload["data"]["findings"]:
            carried_by.setdefault(finding["id"], set()).add(request.webhook_id)
    assert all(len(keys) == 1 for keys in carried_by.values())  # ...under its own key only
