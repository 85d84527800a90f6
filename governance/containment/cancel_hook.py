"""Calling an event source's cancel hook (docs/events.md "Cancel hook"): a signed POST.

Standard Webhooks v1: headers `webhook-id` (the idempotency key: the same on every retry of a
step, so a gateway that already acted can drop the repeat), `webhook-timestamp` (this attempt)
and `webhook-signature` (`v1,` + base64 HMAC-SHA256 over `id.timestamp.body` with the source's
`whsec_` secret). The body is signed as the exact bytes sent. The POST goes through the
project's SSRF-safe fetcher: no redirects (a 3xx is a failure, as the spec says), explicit
timeouts, special-use addresses refused unless allow-listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from standardwebhooks import Webhook

from audit.models import EventSource
from governance.access.secrets import decrypt
from inventory.fetch import FetchError, safe_fetch

# Standard Webhooks suggests 15-30 s; a gateway only has to queue the cancels, not send them.
CONNECT_TIMEOUT, READ_TIMEOUT, TOTAL_TIMEOUT = 5.0, 15.0, 20.0
# No answer at all, or an answer that says "later": worth another attempt.
RETRYABLE_REASONS = {"timeout", "connect_error", "protocol_error", "rate_limited"}
RETRYABLE_STATUSES = {408, 425, 429}
_ANY_STATUS = tuple(range(200, 600))
# What of the gateway's answer is kept in the step's summary (it is shown on the page).
MAX_ANSWER_CHARS = 500


@dataclass(frozen=True)
class HookAnswer:
    """The gateway's answer: status, the task ids it says it cancelled (when it said), and the
    start of its body; or no answer (`status` None) with the reason."""

    status: int | None
    cancelled: list | None = None
    body: str = ""
    reason: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        if self.status is None:
            return self.reason in RETRYABLE_REASONS
        return self.status >= 500 or self.status in RETRYABLE_STATUSES


def signed_headers(secret: str, *, msg_id: str, body: bytes, now: datetime | None = None) -> dict:
    """The three Standard Webhooks headers for `body` (exact bytes) sent now."""
    now = now or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=now, data=body.decode("utf-8"))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def call_cancel_hook(source: EventSource, *, msg_id: str, payload: dict) -> HookAnswer:
    """POST `payload` to the source's cancel hook, signed; never raises for an HTTP answer.
    Call it outside transaction.atomic(): the call may take TOTAL_TIMEOUT seconds."""
    body = orjson.dumps(payload)
    headers = {
        "Content-Type": "application/json",
        **signed_headers(decrypt(source.cancel_hook_secret_encrypted), msg_id=msg_id, body=body),
    }
    try:
        result = safe_fetch(
            source.cancel_hook_url,
            purpose="cancel_hook",
            method="POST",
            headers=headers,
            body=body,
            accept=("application/json", "*/*"),
            allow_status=_ANY_STATUS,
            max_redirects=0,
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            total_timeout=TOTAL_TIMEOUT,
            record=False,
        )
    except FetchError as exc:
        return HookAnswer(
            # A refused redirect and a 429 (or 503 with Retry-After) are answers; the other
            # reasons are no answer, even when a status line came before the failure.
            status=exc.status if exc.reason in ("rate_limited", "redirect_refused") else None,
            reason=exc.reason,
            body=exc.message[:MAX_ANSWER_CHARS],
            retry_after=exc.retry_after,
        )
    return HookAnswer(
        status=result.status_code,
        cancelled=_cancelled(result.content),
        body=result.content[:MAX_ANSWER_CHARS].decode("utf-8", "replace"),
    )


def _cancelled(content: bytes) -> list | None:
    """The `cancelled` list of a JSON answer ({"cancelled": [task ids]}), else None."""
    try:
        answer = orjson.loads(content)
    except ValueError:
        return None
    cancelled = answer.get("cancelled") if isinstance(answer, dict) else None
    return [str(t) for t in cancelled] if isinstance(cancelled, list) else None
