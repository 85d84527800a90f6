"""A scripted OAuth authorization server for the revocation runner's fault tests (127.0.0.1).

It answers what the `oauth` connector calls: discovery, the admin grants route (GET list,
DELETE one), a client admin route (GET, POST .../deactivate and .../activate), RFC 7009
revocation and RFC 7662 introspection. It counts the DELETEs each grant received (a resumed
revocation must not delete twice), can answer 503 with Retry-After for the first N seconds of
an outage, refuse one grant's deletion for good (403), and hold one grant's DELETE until the
test lets it go (to kill a worker in the middle of a call).
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from tests.peers.vendor_api import Answer, Request, ScriptedPeer


class RevocationPeer(ScriptedPeer):
    def __init__(self, grants: list[dict]):
        super().__init__()
        self.grants = {g["id"]: g for g in grants}
        self.deletes: Counter[str] = Counter()
        self.active_tokens: set[str] = set()
        self.inactive_clients: set[str] = set()
        self.outage_until = 0.0
        self.outage_retry_after = "5"
        self.forbidden: set[str] = set()
        self.held: str = ""
        self.holding = threading.Event()  # set once the held DELETE arrived
        self.release = threading.Event()

    def outage(self, seconds: float, retry_after: int = 5) -> None:
        """Every request answers 503 (with Retry-After) for `seconds` from now."""
        self.outage_until = time.monotonic() + seconds
        self.outage_retry_after = str(retry_after)

    def answer(self, request: Request) -> Answer:
        # The held DELETE waits outside the lock: the peer keeps answering other requests.
        if request.method == "DELETE" and request.path.endswith("/" + self.held) and self.held:
            self.holding.set()
            self.release.wait(timeout=120)
        return super().answer(request)

    def handle(self, request: Request) -> Answer:
        if time.monotonic() < self.outage_until:
            return Answer(
                503,
                {"error": "temporarily_unavailable"},
                {"Retry-After": self.outage_retry_after},
            )
        path = request.path
        if path == "/.well-known/openid-configuration":
            return Answer(
                200,
                {
                    "issuer": self.url,
                    "introspection_endpoint": f"{self.url}/introspect",
                    "revocation_endpoint": f"{self.url}/revoke",
                    "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                },
            )
        if path == "/admin/grants" and request.method == "GET":
            return Answer(200, {"grants": list(self.grants.values())})
        if path.startswith("/admin/grants/") and request.method == "DELETE":
            grant_id = path.removeprefix("/admin/grants/")
            if grant_id in self.forbidden:
                return Answer(403, {"error": "access_denied", "error_description": "locked grant"})
            self.deletes[grant_id] += 1
            if self.grants.pop(grant_id, None) is None:
                return Answer(404, {"error": "not_found"})
            return Answer(204)
        if path.startswith("/admin/clients/"):
            client_id, _, verb = path.removeprefix("/admin/clients/").partition("/")
            if verb == "deactivate":
                self.inactive_clients.add(client_id)
            elif verb == "activate":
                self.inactive_clients.discard(client_id)
            return Answer(
                200, {"client_id": client_id, "active": client_id not in self.inactive_clients}
            )
        if path == "/revoke":
            self.active_tokens.discard(request.form.get("token", ""))
            return Answer(200)
        if path == "/introspect":
            return Answer(200, {"active": request.form.get("token", "") in self.active_tokens})
        return Answer(404, {"error": "not_found"})


def grant_record(grant_id: str, subject: str = "alice", client_id: str = "agent") -> dict:
    return {
        "id": grant_id,
        "subject": subject,
        "client_id": client_id,
        "scope": "api:read",
        "grant_type": "authorization_code",
    }
