"""Sending deliveries (issue 14 §4): at least once, under the delivery's idempotency key, retried
with capped exponential backoff, dead-lettered after DELIVERY_MAX_ATTEMPTS, replayable by an Admin.

A worker claims due rows with a conditional UPDATE (a claim token and its time) and commits
before it touches the network, so no transaction is open during a send. A claim older than
DELIVERY_CLAIM_TIMEOUT_SECONDS belongs to a worker that died mid-send: any worker takes it again,
and the receiver sees the message a second time under the same key (that is the only way a
message is sent twice). Recording the outcome is conditional on the claim token, so a slow worker
whose claim was retaken cannot overwrite the newer attempt's result.
"""

from __future__ import annotations

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from governance.access.records import record_admin_action
from governance.alerts.models import Delivery
from governance.alerts.transports import DeliveryFailed, OutgoingMessage, deliver

# Deliveries one send_due round takes; the rest wait for the next round (a second of latency).
# A disabled destination's deliveries wait (pending) until it is enabled again.
SEND_BATCH = 50
# Messages on the wire at once: the network calls run in threads (they touch no database).
SEND_THREADS = 8

CLAIM_SQL = """
UPDATE governance_delivery SET claim_token = %(token)s, claimed_at = %(now)s
WHERE id IN (
    SELECT l.id FROM governance_delivery l
    JOIN governance_destination d ON d.id = l.destination_id AND d.enabled
    WHERE l.status = 'pending' AND l.next_attempt_at <= %(now)s
      AND (l.claimed_at IS NULL OR l.claimed_at < %(stale)s)
    ORDER BY l.next_attempt_at, l.id LIMIT %(limit)s
    FOR UPDATE OF l SKIP LOCKED)
RETURNING id
"""


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """The wait before attempt `attempts + 1`: base x 2^(attempts-1), capped, with jitter (half to
    all of it, so receivers coming back are not hit by every sender at once); a receiver's
    Retry-After is honoured (up to the cap)."""
    cap = settings.DELIVERY_BACKOFF_MAX_SECONDS
    exponential = min(cap, settings.DELIVERY_BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    wait = exponential * (0.5 + random.random() / 2)
    if retry_after is not None:
        wait = max(wait, min(cap, retry_after))
    return wait


def claim_due(*, now: datetime | None = None, limit: int = SEND_BATCH) -> tuple[str, list[int]]:
    """Claim due pending deliveries (and ones whose claim went stale); committed at once."""
    now = now or timezone.now()
    token = str(uuid.uuid4())
    stale = now - timedelta(seconds=settings.DELIVERY_CLAIM_TIMEOUT_SECONDS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, {"token": token, "now": now, "stale": stale, "limit": limit})
        return token, sorted(row[0] for row in cursor.fetchall())


def message_for(delivery: Delivery) -> OutgoingMessage:
    """The transport's view of a delivery: the same key on every attempt."""
    payload = delivery.payload
    data = payload.get("data") or {}
    count = data.get("count", 0)
    labels = ", ".join(str(v) for v in (data.get("labels") or {}).values())
    kind = payload.get("type", "findings.opened")
    verb = {"findings.resolved": "resolved", "findings.repeat": "still open"}.get(kind, "open")
    subject = data.get("subject") or f"{count} finding{'s' * (count != 1)} {verb}: {labels}"
    return OutgoingMessage(
        idempotency_key=delivery.idempotency_key,
        event_type=kind if delivery.purpose == Delivery.Purpose.FINDINGS else delivery.purpose,
        subject=subject[:300],
        severity=data.get("severity", "info"),
        body=payload,
        timestamp=time.time(),
    )


def _record(delivery_id: int, token: str, **changes) -> int:
    """Write an attempt's outcome only if our claim still holds."""
    return Delivery.objects.filter(pk=delivery_id, claim_token=token).update(
        claim_token=None, claimed_at=None, **changes
    )


def attempt(delivery: Delivery, transport=deliver) -> DeliveryFailed | None:
    """The network part of one attempt (no database: it runs in a sending thread)."""
    try:
        transport(delivery.destination, message_for(delivery))
    except DeliveryFailed as failure:
        return failure
    except Exception as exc:  # noqa: BLE001 - a transport bug must not strand the claim
        return DeliveryFailed(f"sending failed: {type(exc).__name__}", retryable=True)
    return None


def record_attempt(delivery: Delivery, token: str, failure: DeliveryFailed | None) -> str:
    """Write an attempt's outcome (if our claim still holds); returns the new status."""
    attempts, now = delivery.attempts + 1, timezone.now()
    if failure is None:
        _record(
            delivery.pk,
            token,
            status=Delivery.Status.DELIVERED,
            attempts=attempts,
            delivered_at=now,
            last_error="",
        )
        return Delivery.Status.DELIVERED
    if not failure.retryable or attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        _record(
            delivery.pk,
            token,
            status=Delivery.Status.DEAD,
            attempts=attempts,
            dead_at=now,
            last_error=failure.detail[:1000],
        )
        return Delivery.Status.DEAD
    wait = backoff_seconds(attempts, failure.retry_after)
    _record(
        delivery.pk,
        token,
        attempts=attempts,
        last_error=failure.detail[:1000],
        next_attempt_at=now + timedelta(seconds=wait),
    )
    return Delivery.Status.PENDING


def send_one(delivery: Delivery, token: str, *, transport=deliver) -> str:
    """One attempt, sent and recorded; returns the delivery's new status."""
    return record_attempt(delivery, token, attempt(delivery, transport))


def send_due(*, transport=deliver, now: datetime | None = None) -> dict:
    """Claim due deliveries and send them, SEND_THREADS at a time (a slow receiver does not hold
    up the others); outcomes are written by this thread, no transaction open meanwhile."""
    token, ids = claim_due(now=now)
    outcome = {"delivered": 0, "retrying": 0, "dead": 0}
    if not ids:
        return outcome
    deliveries = Delivery.objects.select_related("destination").filter(pk__in=ids).order_by("pk")
    with ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="deliver") as pool:
        sending = {pool.submit(attempt, d, transport): d for d in deliveries}
        for done in as_completed(sending):
            status = record_attempt(sending[done], token, done.result())
            outcome[{"delivered": "delivered", "dead": "dead"}.get(status, "retrying")] += 1
    return outcome


def dead_letters(destination=None):
    """The dead-letter list (newest first), optionally of one destination."""
    rows = Delivery.objects.filter(status=Delivery.Status.DEAD).select_related("destination")
    if destination is not None:
        rows = rows.filter(destination=destination)
    return rows.order_by("-dead_at", "-id")


@transaction.atomic
def replay(delivery_ids, by, *, request=None) -> int:
    """Dead letters back to pending (attempts from 0, the same idempotency key, due now); each
    replay is an admin-action record. Ids that are not dead letters are left alone."""
    dead = list(
        Delivery.objects.select_for_update()
        .select_related("destination")
        .filter(pk__in=list(delivery_ids), status=Delivery.Status.DEAD)
    )
    now = timezone.now()
    who = by.get_username() if getattr(by, "is_authenticated", False) else str(by or "")
    for delivery in dead:
        record_admin_action(
            actor=by,
            action="delivery.replayed",
            obj=delivery,
            before={
                "status": delivery.status,
                "attempts": delivery.attempts,
                "last_error": delivery.last_error,
            },
            after={"status": Delivery.Status.PENDING, "attempts": 0},
            request=request,
        )
    Delivery.objects.filter(pk__in=[d.pk for d in dead]).update(
        status=Delivery.Status.PENDING,
        attempts=0,
        next_attempt_at=now,
        dead_at=None,
        claim_token=None,
        claimed_at=None,
        replayed_by=who[:200],
    )
    return len(dead)
