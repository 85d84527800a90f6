"""The one failure the transports raise (re-exported by governance/alerts/transports.py, the
contract the delivery engine and the forwarder use)."""

from __future__ import annotations


class DeliveryFailed(Exception):
    def __init__(self, detail: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
