"""A Google token endpoint and Admin SDK Directory API peer on 127.0.0.1, scripted from Google's
documentation (developers.google.com: service accounts, domain-wide delegation, Directory API
users and tokens, limits).

- `POST /token` takes `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and an RS256
  `assertion`. The peer checks the signature with the service account's public key, `iss`,
  `aud` (its own token URL), `iat`/`exp`, that `sub` is the delegated admin, and that every
  requested scope is delegated: a bad signature is 400 `invalid_grant`, an undelegated scope
  401 `unauthorized_client` (Google's own messages).
- `GET /admin/directory/v1/users?customer=&maxResults=&pageToken=` (`nextPageToken`), needs
  `admin.directory.user.readonly` (or the read-write scope).
- `GET /admin/directory/v1/users/{userKey}/tokens` (`{kind, items}`; no pagination),
  `GET .../tokens/{clientId}` (one Token, 404 when the user gave the app none),
  `DELETE .../tokens/{clientId}` (204, then 404) and `POST .../users/{userKey}/signOut` (204,
  recorded in `signed_out`; 404 for an unknown user), need `admin.directory.user.security`.
- Errors in Google's JSON shape `{"error": {code, message, errors: [{reason}], status}}`: 403
  `insufficientPermissions` for a token without the scope, 403 `userRateLimitExceeded` past
  `limit` requests (no reset header: Google documents exponential backoff).
Faults for tests: `fail_next`, `limit`, `repeat_page_token`, `delegated` (scopes).
"""

from __future__ import annotations

import base64
import json
import secrets
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.peers.vendor_api import Answer, Request, ScriptedPeer

USERS_READ = "https://www.googleapis.com/auth/admin.directory.user.readonly"
USERS_WRITE = "https://www.googleapis.com/auth/admin.directory.user"
SECURITY = "https://www.googleapis.com/auth/admin.directory.user.security"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
BASE = "/admin/directory/v1/users"


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _error(code: int, reason: str, message: str, status: str) -> Answer:
    errors = [{"message": message, "domain": "global", "reason": reason}]
    return Answer(
        code, {"error": {"code": code, "message": message, "errors": errors, "status": status}}
    )


class GooglePeer(ScriptedPeer):
    token_path = "/token"

    def __init__(self, *, admin_email="admin@example.test"):
        super().__init__()
        self.admin_email = admin_email
        self.client_email = "mcp-console@project.iam.gserviceaccount.com"
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self._private_key.public_key()
        self.delegated = {USERS_READ, SECURITY}
        self.users: list[dict] = []
        self.tokens: dict[str, dict[str, dict]] = {}  # user id -> clientId -> Token
        self.limit: int | None = None  # API requests allowed before rate errors; None: any
        self.repeat_page_token = False
        self.rate_limited = 0
        self.signed_out: list[str] = []
        self._issued: dict[str, set[str]] = {}
        self._api_calls = 0

    @property
    def token_url(self) -> str:
        return f"{self.url}{self.token_path}"

    def key_json(self, private_key=None) -> str:
        """The service account's key file, as the Cloud console downloads it."""
        pem = (private_key or self._private_key).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return json.dumps(
            {
                "type": "service_account",
                "project_id": "project",
                "private_key_id": "key-1",
                "private_key": pem.decode(),
                "client_email": self.client_email,
                "client_id": "1234567890",
                "token_uri": self.token_url,
            }
        )

    def handle(self, request: Request) -> Answer:
        if request.method == "POST" and request.path == self.token_path:
            return self._token(request)
        if not request.path.startswith(BASE):
            return _error(404, "notFound", "Not Found", "NOT_FOUND")
        self._api_calls += 1
        if self.limit is not None and self._api_calls > self.limit:
            self.rate_limited += 1
            return _error(403, "userRateLimitExceeded", "Rate Limit Exceeded", "PERMISSION_DENIED")
        parts = request.path.removeprefix(BASE).strip("/").split("/")
        return self._api(request, [p for p in parts if p])

    # --- the token endpoint -----------------------------------------------------------------

    def _token(self, request: Request) -> Answer:
        if request.form.get("grant_type") != JWT_BEARER:
            return Answer(
                400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
            )
        claims = self._verified_claims(request.form.get("assertion", ""))
        if claims is None:
            return Answer(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        now, iat, exp = time.time(), claims.get("iat", 0), claims.get("exp", 0)
        # Google: issued now (a few seconds' skew allowed), valid for at most an hour.
        if (
            claims.get("iss") != self.client_email
            or claims.get("aud") != self.token_url
            or not (now - 300 <= iat <= now + 5 and now < exp <= iat + 3600)
        ):
            return Answer(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT: claims"}
            )
        if claims.get("sub") != self.admin_email:
            return Answer(
                400, {"error": "invalid_grant", "error_description": "Invalid email or User ID"}
            )
        scopes = set(str(claims.get("scope", "")).split())
        if not scopes or not scopes <= self.delegated:
            description = (
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested."
            )
            return Answer(401, {"error": "unauthorized_client", "error_description": description})
        token = secrets.token_urlsafe(16)
        self._issued[token] = scopes
        return Answer(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _verified_claims(self, assertion: str) -> dict | None:
        try:
            header, claims, signature = assertion.split(".")
            if json.loads(_b64decode(header)).get("alg") != "RS256":
                return None
            self.public_key.verify(
                _b64decode(signature),
                f"{header}.{claims}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            return json.loads(_b64decode(claims))
        except (ValueError, InvalidSignature):
            return None

    # --- the Directory API ------------------------------------------------------------------

    def _scope(self, request: Request, *accepted: str) -> Answer | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self._issued:
            return _error(401, "authError", "Invalid Credentials", "UNAUTHENTICATED")
        if not self._issued[token] & set(accepted):
            message = "Request had insufficient authentication scopes."
            return _error(403, "insufficientPermissions", message, "PERMISSION_DENIED")
        return None

    def _user(self, key: str) -> dict | None:
        return next((u for u in self.users if key in (u["id"], u["primaryEmail"])), None)

    def _api(self, request: Request, parts: list[str]) -> Answer:
        if not parts and request.method == "GET":
            return self._scope(request, USERS_READ, USERS_WRITE) or self._list_users(request)
        denied = self._scope(request, SECURITY)
        if denied or len(parts) < 2 or parts[1] not in ("tokens", "signOut"):
            return denied or _error(404, "notFound", "Not Found", "NOT_FOUND")
        user = self._user(parts[0])
        if user is None:
            return _error(404, "notFound", "Resource Not Found: userKey", "NOT_FOUND")
        if parts[1] == "signOut":
            if len(parts) != 2 or request.method != "POST":
                return _error(404, "notFound", "Not Found", "NOT_FOUND")
            self.signed_out.append(user["id"])
            return Answer(204)
        tokens = self.tokens.setdefault(user["id"], {})
        if len(parts) == 2 and request.method == "GET":
            return Answer(
                200,
                {
                    "kind": "admin#directory#tokenList",
                    "etag": '"e"',
                    "items": list(tokens.values()),
                },
            )
        if len(parts) == 3 and request.method == "GET":
            found = tokens.get(parts[2])
            if found is None:
                return _error(404, "notFound", "Resource Not Found: clientId", "NOT_FOUND")
            return Answer(200, found)
        if len(parts) == 3 and request.method == "DELETE":
            if tokens.pop(parts[2], None) is None:
                return _error(404, "notFound", "Resource Not Found: clientId", "NOT_FOUND")
            return Answer(204)
        return _error(404, "notFound", "Not Found", "NOT_FOUND")

    def _list_users(self, request: Request) -> Answer:
        if request.query.get("customer") != "my_customer":
            return _error(400, "invalid", "Bad Request", "INVALID_ARGUMENT")
        start = int(request.query.get("pageToken") or 0)
        size = int(request.query.get("maxResults", 100))
        body = {"kind": "admin#directory#users", "users": self.users[start : start + size]}
        if start + size < len(self.users):
            body["nextPageToken"] = str(size if self.repeat_page_token else start + size)
        return Answer(200, body)

    # --- seeding ----------------------------------------------------------------------------

    def seed(self, *, users: int = 3) -> dict:
        """The admin and users, each with a third-party app's token."""
        self.users = [
            {
                "id": "100",
                "primaryEmail": self.admin_email,
                "name": {"fullName": "Admin"},
                "suspended": False,
            }
        ]
        for n in range(users):
            user_id = str(200 + n)
            self.users.append(
                {
                    "id": user_id,
                    "primaryEmail": f"user{n}@example.test",
                    "name": {"fullName": f"User {n}"},
                    "suspended": n == 2,
                }
            )
            self.tokens[user_id] = {
                "agent.apps.googleusercontent.com": {
                    "kind": "admin#directory#token",
                    "etag": '"t"',
                    "clientId": "agent.apps.googleusercontent.com",
                    "displayText": "Agent",
                    "scopes": ["https://www.googleapis.com/auth/drive.readonly", "openid"],
                    "userKey": user_id,
                    "anonymous": False,
                    "nativeApp": False,
                }
            }
        return {"grant_id": "", "subject": "200", "client_id": "agent.apps.googleusercontent.com"}
