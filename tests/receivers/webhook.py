"""A Standard Webhooks receiver: every request verified by the `standardwebhooks` library (the
spec's reference implementation, not our code); what passed is kept with its webhook-id."""

from __future__ import annotations

from dataclasses import dataclass

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.receivers.http import HttpReceiver


@dataclass
class WebhookRequest:
    webhook_id: str
    timestamp: int
    payload: dict
    path: str
    headers: dict
    body: bytes


class WebhookReceiver(HttpReceiver):
    """`WebhookReceiver("whsec_...")`; 401 for a bad or missing signature (in `rejected`)."""

    def __init__(self, secret: str, **kwargs):
        super().__init__(**kwargs)
        self.secret = secret

    def handle(self, method, path, headers, body):
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, ValueError) as exc:
            self.rejected.add((str(exc), headers, body))
            return 401, {"error": "signature"}
        self.inbox.add(
            WebhookRequest(
                webhook_id=headers["webhook-id"],
                timestamp=int(headers["webhook-timestamp"]),
                payload=payload,
                path=path,
                headers=headers,
                body=body,
            )
        )
        return 200, {"ok": True}

    @property
    def webhook_ids(self) -> list[str]:
        return [r.webhook_id for r in self.received]
