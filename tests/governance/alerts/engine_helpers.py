"""Helpers for the delivery-engine tests: destinations, findings, and a transport stub that
records what it was asked to send (or fails the way a receiver would)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from governance.alerts.models import Destination
from governance.alerts.transports import DeliveryFailed
from inventory.models import Finding


def destination(name="siem", **kw) -> Destination:
    """A webhook destination sending every high+ finding at once (group_wait 0)."""
    fields = {
        "kind": Destination.Kind.WEBHOOK,
        "url": "http://127.0.0.1:9/hook",
        "min_severity": "high",
        "group_wait_seconds": 0,
        **kw,
    }
    return Destination.objects.create(name=name, **fields)


def findings(n, *, kind="access.used_after_revocation", severity="high", prefix="c") -> list:
    """n new findings (the trigger writes their notices), one object each."""
    now = timezone.now()
    return Finding.objects.bulk_create(
        Finding(
            kind=kind,
            severity=severity,
            object_type="inventory.client",
            object_id=f"{prefix}{i}",
            object_repr=f"client {prefix}{i}",
            summary=f"Client {prefix}{i} used after it was killed",
            raised_at=now,
            last_raised_at=now,
        )
        for i in range(n)
    )


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


class Recorder:
    """A transport: records (destination name, message); `fail` makes the next sends raise."""

    def __init__(self):
        self.sent = []
        self.failures = []  # DeliveryFailed to raise, one per call, before succeeding

    def __call__(self, destination, message):
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((destination.name, message))

    def fail(self, times=1, *, retryable=True, retry_after=None, detail="HTTP 503"):
        self.failures += [
            DeliveryFailed(detail, retryable=retryable, retry_after=retry_after)
            for _ in range(times)
        ]

    @property
    def bodies(self):
        return [m.body for _, m in self.sent]
