"""An Auth0 Management API v2 peer on 127.0.0.1, scripted from Auth0's documentation.

What it follows (auth0.com/docs and the auth0-python SDK's generated client):
- `POST /oauth/token`, client credentials with `audience=https://{domain}/api/v2/`; a wrong
  secret or audience is 401 `access_denied`. The token carries the application's scopes.
- `GET /api/v2/users|clients|grants` with `page` (0-based), `per_page` and `include_totals`
  (`{start, limit, total, <collection>: [...]}`); `GET /api/v2/client-grants` and
  `GET /api/v2/users/{id}/refresh-tokens` with `from`/`take` checkpoints (`{<key>: [...],
  next}`, no `next` on the last page).
- `DELETE /api/v2/grants|refresh-tokens|client-grants/{id}`: 204, then 404 once gone.
- Containment (issue 13): `GET /api/v2/grants?user_id&client_id` and
  `GET /api/v2/client-grants?client_id` filter; `GET /api/v2/users/{id}`;
  `DELETE /api/v2/users/{id}/refresh-tokens` and `DELETE /api/v2/users/{id}/sessions`: 204
  (also when there is nothing left), 404 for an unknown user.
- A missing scope is 403 `insufficient_scope` ("Insufficient scope, expected any of: ...").
- Every API answer carries `X-RateLimit-Limit`, `-Remaining` and `-Reset` (epoch seconds of
  the end of the current one-second window); past the limit, 429 `too_many_requests`.
Faults for tests: `fail_next`, `limit` (requests per second window), `repeat_cursor`,
`ignore_page`, `scopes` (what the application was granted).
"""

from __future__ import annotations

import math
import secrets
import time

from tests.peers.vendor_api import Answer, Request, ScriptedPeer

ALL_SCOPES = frozenset(
    {
        "read:users",
        "read:clients",
        "read:grants",
        "delete:grants",
        "read:refresh_tokens",
        "delete:refresh_tokens",
        "read:client_grants",
        "delete:client_grants",
        "delete:sessions",
    }
)
_OFFSET = {"users": "read:users", "clients": "read:clients", "grants": "read:grants"}
_DELETE = {
    "grants": "delete:grants",
    "refresh-tokens": "delete:refresh_tokens",
    "client-grants": "delete:client_grants",
}


class Auth0Peer(ScriptedPeer):
    token_path = "/oauth/token"

    def __init__(self, *, domain="tenant.example.test", client_id="console", secret="m2m-secret"):
        super().__init__()
        self.domain, self.client_id, self.secret = domain, client_id, secret
        self.scopes = set(ALL_SCOPES)
        self.users: list[dict] = []
        self.clients: list[dict] = []
        self.grants: dict[str, dict] = {}
        self.refresh_tokens: dict[str, dict] = {}
        self.client_grants: dict[str, dict] = {}
        self.sessions: dict[str, list[str]] = {}  # user id -> session ids
        self.limit: int | None = None  # requests per one-second window; None: unlimited
        self.repeat_cursor = False
        self.ignore_page = False
        self.rate_limited = 0  # how many 429s it answered
        self._tokens: dict[str, set[str]] = {}
        self._window = (0, 0)  # (window second, requests in it)

    def handle(self, request: Request) -> Answer:
        if request.method == "POST" and request.path == self.token_path:
            return self._token(request)
        if not request.path.startswith("/api/v2/"):
            return Answer(404, {"statusCode": 404, "error": "Not Found"})
        limited = self._rate(request)
        if limited.status == 429:
            return limited
        answer = self._api(request, request.path.removeprefix("/api/v2/").split("/"))
        answer.headers.update(limited.headers)
        return answer

    # --- auth and limits --------------------------------------------------------------------

    def _token(self, request: Request) -> Answer:
        form = request.form
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != self.client_id
            or form.get("client_secret") != self.secret
            or form.get("audience") != f"https://{self.domain}/api/v2/"
        ):
            return Answer(401, {"error": "access_denied", "error_description": "Unauthorized"})
        token = secrets.token_urlsafe(16)
        self._tokens[token] = set(self.scopes)
        scope = " ".join(sorted(self.scopes))
        return Answer(200, {"access_token": token, "expires_in": 86400, "scope": scope})

    def _rate(self, request: Request) -> Answer:
        now = time.time()
        second = math.floor(now)
        window, count = self._window
        count = count + 1 if window == second else 1
        self._window = (second, count)
        limit = self.limit or 1000
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - count)),
            "X-RateLimit-Reset": str(second + 1),
        }
        if self.limit is not None and count > self.limit:
            self.rate_limited += 1
            body = {
                "statusCode": 429,
                "error": "Too Many Requests",
                "errorCode": "too_many_requests",
            }
            return Answer(429, body, headers)
        return Answer(200, None, headers)

    def _scope(self, request: Request, needed: str) -> Answer | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self._tokens:
            return Answer(
                401, {"statusCode": 401, "error": "Unauthorized", "message": "Invalid token"}
            )
        if needed not in self._tokens[token]:
            message = f"Insufficient scope, expected any of: {needed}"
            body = {"statusCode": 403, "error": "Forbidden", "message": message}
            return Answer(403, {**body, "errorCode": "insufficient_scope"})
        return None

    # --- the API ----------------------------------------------------------------------------

    def _api(self, request: Request, parts: list[str]) -> Answer:
        if request.method == "DELETE" and len(parts) == 2 and parts[0] in _DELETE:
            return self._scope(request, _DELETE[parts[0]]) or self._delete(parts[0], parts[1])
        if request.method == "DELETE" and len(parts) == 3 and parts[0] == "users":
            return self._delete_of_user(request, parts[1], parts[2])
        if request.method != "GET":
            return Answer(404, {"statusCode": 404, "error": "Not Found"})
        if len(parts) == 2 and parts[0] == "users":
            user = next((u for u in self.users if u["user_id"] == parts[1]), None)
            found = Answer(200, user) if user else _not_found("The user does not exist.")
            return self._scope(request, "read:users") or found
        if len(parts) == 1 and parts[0] in _OFFSET:
            return self._scope(request, _OFFSET[parts[0]]) or self._offset(request, parts[0])
        if parts == ["client-grants"]:
            wanted = request.query.get("client_id")
            items = [g for g in self.client_grants.values() if wanted in (None, g["client_id"])]
            return self._scope(request, "read:client_grants") or self._checkpoint(
                request, items, "client_grants"
            )
        if len(parts) == 3 and parts[0] == "users" and parts[2] == "refresh-tokens":
            items = [t for t in self.refresh_tokens.values() if t["user_id"] == parts[1]]
            return self._scope(request, "read:refresh_tokens") or self._checkpoint(
                request, items, "tokens"
            )
        return Answer(404, {"statusCode": 404, "error": "Not Found"})

    def _collection(self, name: str) -> list[dict]:
        if name == "grants":
            return list(self.grants.values())
        return {"users": self.users, "clients": self.clients}[name]

    def _delete_of_user(self, request: Request, user_id: str, part: str) -> Answer:
        scope = {"refresh-tokens": "delete:refresh_tokens", "sessions": "delete:sessions"}.get(part)
        if scope is None:
            return Answer(404, {"statusCode": 404, "error": "Not Found"})
        denied = self._scope(request, scope)
        if denied:
            return denied
        if not any(u["user_id"] == user_id for u in self.users):
            return _not_found("The user does not exist.")
        if part == "sessions":
            self.sessions.pop(user_id, None)
        else:
            for token_id in [k for k, t in self.refresh_tokens.items() if t["user_id"] == user_id]:
                del self.refresh_tokens[token_id]
        return Answer(204)

    def _offset(self, request: Request, name: str) -> Answer:
        items = self._collection(name)
        if name == "grants":  # the /grants filters (Auth0's record spells it clientID)
            user, client = request.query.get("user_id"), request.query.get("client_id")
            items = [
                g for g in items if user in (None, g["user_id"]) and client in (None, g["clientID"])
            ]
        page = 0 if self.ignore_page else int(request.query.get("page", 0))
        per_page = int(request.query.get("per_page", 50))
        chunk = items[page * per_page : (page + 1) * per_page]
        if request.query.get("include_totals") != "true":
            return Answer(200, chunk)
        body = {"start": page * per_page, "limit": per_page, "total": len(items), name: chunk}
        return Answer(200, body)

    def _checkpoint(self, request: Request, items: list[dict], key: str) -> Answer:
        start = int(request.query.get("from") or 0)
        take = int(request.query.get("take", 50))
        body = {key: items[start : start + take]}
        if start + take < len(items):
            body["next"] = str(take if self.repeat_cursor else start + take)
        return Answer(200, body)

    def _delete(self, collection: str, item_id: str) -> Answer:
        store = {
            "grants": self.grants,
            "refresh-tokens": self.refresh_tokens,
            "client-grants": self.client_grants,
        }[collection]
        if store.pop(item_id, None) is None:
            body = {"statusCode": 404, "error": "Not Found", "message": "The grant does not exist."}
            return Answer(404, {**body, "errorCode": "inexistent_grant"})
        return Answer(204)

    # --- seeding ----------------------------------------------------------------------------

    def seed_grant(self, user_id: str, client_id: str = "agent-app") -> None:
        """A consent and a refresh token of `user_id` for `client_id` (a user is added if new)."""
        if not any(u["user_id"] == user_id for u in self.users):
            self.users.append({"user_id": user_id, "email": f"{user_id}@example.test"})
        n = len(self.grants) + len(self.refresh_tokens)
        self.grants[f"cgr_s{n}"] = {
            "id": f"cgr_s{n}",
            "clientID": client_id,
            "user_id": user_id,
            "audience": "https://api.example.test/",
            "scope": ["openid"],
        }
        self.refresh_tokens[f"rt_s{n}"] = {
            "id": f"rt_s{n}",
            "user_id": user_id,
            "client_id": client_id,
        }
        self.sessions.setdefault(user_id, []).append(f"ses_s{n}")

    def seed(self, *, users: int = 3, per_user: int = 2) -> dict:
        """Users, an agent client, a consent and refresh tokens per user, one client grant."""
        self.clients = [
            {"client_id": "agent-app", "name": "Agent", "app_type": "non_interactive"},
            {"client_id": self.client_id, "name": "MCP console", "app_type": "non_interactive"},
        ]
        for n in range(users):
            user_id = f"auth0|user{n}"
            self.users.append(
                {"user_id": user_id, "email": f"user{n}@example.test", "name": f"User {n}"}
            )
            self.grants[f"cgr_{n}"] = {
                "id": f"cgr_{n}",
                "clientID": "agent-app",
                "user_id": user_id,
                "audience": "https://api.example.test/",
                "scope": ["openid", "read:invoices"],
            }
            self.sessions[user_id] = [f"ses_{n}"]
            for k in range(per_user):
                token_id = f"rt_{n}_{k}"
                self.refresh_tokens[token_id] = {
                    "id": token_id,
                    "user_id": user_id,
                    "client_id": "agent-app",
                    "created_at": "2026-11-01T10:00:00.000Z",
                    "expires_at": "2027-11-01T10:00:00.000Z",
                    "resource_servers": [
                        {
                            "audience": "https://api.example.test/",
                            "scopes": "read:invoices offline_access",
                        }
                    ],
                    "rotating": True,
                }
        self.client_grants["cg_1"] = {
            "id": "cg_1",
            "client_id": "agent-app",
            "audience": "https://api.example.test/",
            "scope": ["billing:admin"],
        }
        return {"grant_id": "rt_0_0", "subject": "auth0|user0", "client_id": "agent-app"}


def _not_found(message: str) -> Answer:
    return Answer(404, {"statusCode": 404, "error": "Not Found", "message": message})
