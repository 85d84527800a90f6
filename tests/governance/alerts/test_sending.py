"""Sending deliveries: retried with capped backoff (Retry-After honoured), dead-lettered after the
last attempt or at once when retrying cannot help, replayed by an Admin under the same key; a
claim that went stale (the worker died mid-send) is taken again, under the same key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.access.models import AdminAction
from governance.alerts.delivery import dispatch, flush_groups, route_notices
from governance.alerts.models import Delivery
from governance.alerts.sending import (
    backoff_seconds,
    claim_due,
    dead_letters,
    replay,
    send_due,
    send_one,
)
from tests.governance.alerts.engine_helpers import Recorder, destination, findings, later

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent():
    return Recorder()


@pytest.fixture
def one_delivery(sent):
    """A destination with one pending delivery (its first send failed: 503)."""
    destination()
    findings(1)
    sent.fail(1)
    dispatch(transport=sent)
    return Delivery.objects.get()


def test_a_retryable_failure_waits_with_backoff_and_keeps_the_key(sent, one_delivery):
    assert (one_delivery.status, one_delivery.attempts) == ("pending", 1)
    assert one_delivery.last_error == "HTTP 503"
    wait = (one_delivery.next_attempt_at - one_delivery.created_at).total_seconds()
    assert 0.5 <= wait <= 2.5  # base 2 s, half to all of it

    assert send_due(transport=sent)["delivered"] == 0  # not due yet
    assert send_due(transport=sent, now=later(3))["delivered"] == 1

    one_delivery.refresh_from_db()
    assert (one_delivery.status, one_delivery.attempts) == ("delivered", 2)
    assert sent.sent[0][1].idempotency_key == one_delivery.idempotency_key


def test_backoff_doubles_is_capped_and_honours_retry_after(settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 2
    settings.DELIVERY_BACKOFF_MAX_SECONDS = 60
    for attempts, full in [(1, 2), (2, 4), (3, 8), (6, 60), (30, 60)]:
        assert full / 2 <= backoff_seconds(attempts) <= full
    assert backoff_seconds(1, retry_after=30) >= 30
    assert backoff_seconds(1, retry_after=3600) == 60  # a Retry-After is capped too


def test_after_the_last_attempt_the_delivery_is_a_dead_letter(settings, sent, one_delivery):
    settings.DELIVERY_MAX_ATTEMPTS = 3
    sent.fail(2)
    send_due(transport=sent, now=later(10))
    assert Delivery.objects.get().status == "pending"
    send_due(transport=sent, now=later(100))

    dead = Delivery.objects.get()
    assert (dead.status, dead.attempts) == ("dead", 3) and dead.dead_at is not None
    assert list(dead_letters()) == [dead]
    assert list(dead_letters(destination=dead.destination)) == [dead]
    assert send_due(transport=sent, now=later(10_000))["delivered"] == 0  # dead stays dead


def test_a_failure_retrying_cannot_help_is_a_dead_letter_at_once(sent):
    destination()
    findings(1)
    sent.fail(1, retryable=False, detail="HTTP 401: bad signature secret")

    dispatch(transport=sent)

    dead = Delivery.objects.get()
    assert (dead.status, dead.attempts, dead.last_error) == (
        "dead",
        1,
        "HTTP 401: bad signature secret",
    )


def test_an_admin_replays_dead_letters_under_the_same_key(sent, admin_user):
    destination()
    findings(1)
    sent.fail(1, retryable=False)
    dispatch(transport=sent)
    dead = Delivery.objects.get()

    assert replay([dead.pk], admin_user) == 1
    assert replay([dead.pk], admin_user) == 0  # no longer a dead letter
    dead.refresh_from_db()
    assert (dead.status, dead.attempts, dead.replayed_by) == ("pending", 0, "ada-admin")
    record = AdminAction.objects.get(action="delivery.replayed")
    assert record.object_id == str(dead.pk) and record.actor == admin_user

    send_due(transport=sent)
    [(_, message)] = sent.sent
    assert message.idempotency_key == dead.idempotency_key
    assert Delivery.objects.get().status == "delivered"


def test_a_claim_in_progress_is_left_alone_and_a_stale_one_is_taken_again(settings, sent):
    settings.DELIVERY_CLAIM_TIMEOUT_SECONDS = 60
    destination()
    findings(1)
    route_notices()
    flush_groups()
    delivery = Delivery.objects.get()
    dying_token, claimed = claim_due()  # a worker claims it, then dies mid-send
    assert claimed == [delivery.pk]

    assert claim_due()[1] == []  # another worker: the claim is fresh, hands off
    token, retaken = claim_due(now=timezone.now() + timedelta(seconds=61))
    assert retaken == [delivery.pk]
    send_one(Delivery.objects.get(), token, transport=sent)
    # the worker presumed dead comes back: its outcome does not overwrite the new attempt's
    sent.fail(1, retryable=False)
    send_one(Delivery.objects.get(), dying_token, transport=sent)

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert sent.sent[0][1].idempotency_key == delivery.idempotency_key


def test_a_disabled_destination_keeps_its_messages_until_enabled_again(sent):
    siem = destination()
    findings(2)
    route_notices()

    def switch(on):
        siem.enabled = on
        siem.save()

    switch(False)
    assert flush_groups() == 0  # its group waits
    switch(True)
    assert flush_groups() == 1
    switch(False)
    assert send_due(transport=sent)["delivered"] == 0  # its message waits
    assert Delivery.objects.get().status == "pending"
    switch(True)
    assert send_due(transport=sent)["delivered"] == 1
