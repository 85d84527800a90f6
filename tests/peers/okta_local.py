"""What Prism cannot serve for the okta connector, as a small real server on 127.0.0.1.

- `POST /oauth2/v1/token`: Okta's org authorization server for a service app. It checks the
  private_key_jwt client assertion the way Okta does (signature with the app's public key,
  iss = sub = client_id, aud = this endpoint, not expired) and grants only the scopes the app
  holds (`invalid_scope` otherwise). Tokens it issues are remembered with their scopes.
- `GET /api/v1/users`: users in pages, the next one in `Link: <…>; rel="next"` as Okta sends it,
  every answer with `X-Rate-Limit-Limit/Remaining/Reset` and `Date`. The window is counted
  per request: a client that calls past `Remaining: 0` before the reset gets Okta's 429
  (E0000047), and the server counts those. `repeat_cursor` makes the second page link to
  itself, as a broken server might.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TOKEN_PATH = "/oauth2/v1/token"


class OktaLocal(ThreadingHTTPServer):
    """The token endpoint and a paced, paginated user list (see the module docstring)."""

    daemon_threads = True

    def __init__(self, *, client_id: str, public_key: rsa.RSAPublicKey, granted: set[str]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.client_id = client_id
        self.public_key = public_key
        self.granted = set(granted)
        self.tokens: dict[str, set[str]] = {}  # access token -> its scopes
        self.users: list[dict] = []
        self.page_size = 2
        self.repeat_cursor = False
        self.rate_limit = 1000  # requests per window on /api/v1/users
        self.window_seconds = 1
        self._window_end = 0.0
        self._remaining = 0
        self.served_429 = 0
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> OktaLocal:
        threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def take_from_window(self) -> tuple[bool, int, int]:
        """Count one request against the window: (allowed, remaining, reset epoch second)."""
        with self.lock:
            now = time.time()
            if now >= self._window_end:
                # Windows end on a whole second, as Okta's epoch-second reset does.
                self._window_end = math.ceil(now) + self.window_seconds
                self._remaining = self.rate_limit
            allowed = self._remaining > 0
            self._remaining = max(self._remaining - 1, 0)
            return allowed, self._remaining, int(self._window_end)

    # --- the token endpoint -------------------------------------------------------------------

    def issue(self, form: dict[str, str], audience: str) -> tuple[int, dict]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if not self._assertion_ok(form.get("client_assertion", ""), audience):
            return 401, {"error": "invalid_client", "error_description": "bad client assertion"}
        scopes = set(form.get("scope", "").split())
        missing = scopes - self.granted
        if missing:
            allowed = f"The following scopes are not allowed: {' '.join(sorted(missing))}"
            return 400, {"error": "invalid_scope", "error_description": allowed}
        token = secrets.token_urlsafe(24)
        self.tokens[token] = scopes
        return 200, {
            "token_type": "Bearer",
            "expires_in": 3600,
            "access_token": token,
            "scope": " ".join(sorted(scopes)),
        }

    def _assertion_ok(self, jwt: str, audience: str) -> bool:
        try:
            header_b64, claims_b64, signature_b64 = jwt.split(".")
            header, claims = _decode(header_b64), _decode(claims_b64)
            self.public_key.verify(
                _unb64(signature_b64),
                f"{header_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (ValueError, InvalidSignature):
            return False
        return (
            header.get("alg") == "RS256"
            and claims.get("iss") == claims.get("sub") == self.client_id
            and claims.get("aud") == audience
            and claims.get("exp", 0) > time.time()
            and bool(claims.get("jti"))
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OktaLocal

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        self.server.requests.append(("POST", self.path))
        if self.path != TOKEN_PATH:
            return self._answer(404, {"errorCode": "E0000007"})
        status, body = self.server.issue(form, f"{self.server.url}{TOKEN_PATH}")
        self._answer(status, body)

    def do_GET(self):
        self.server.requests.append(("GET", self.path))
        parts = urllib.parse.urlsplit(self.path)
        if parts.path != "/api/v1/users":
            return self._answer(404, {"errorCode": "E0000007"})
        token = self.headers.get("authorization", "").removeprefix("Bearer ")
        if "okta.users.read" not in self.server.tokens.get(token, set()):
            return self._answer(403, {"errorCode": "E0000006", "errorSummary": "no permission"})
        allowed, remaining, reset = self.server.take_from_window()
        rate = {
            "X-Rate-Limit-Limit": str(self.server.rate_limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str(reset),
        }
        if not allowed:
            self.server.served_429 += 1
            body = {"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit"}
            return self._answer(429, body, rate)
        self._answer(200, *self._page(urllib.parse.parse_qs(parts.query), rate))

    def _page(self, query, headers):
        start = int(query.get("after", ["0"])[0])
        size = self.server.page_size
        page = self.server.users[start : start + size]
        after = start + size
        if self.server.repeat_cursor and start > 0:
            after = start  # the link names the page we are on: an endless loop for a naive client
        if after < len(self.server.users):
            link = f"{self.server.url}/api/v1/users?after={after}&limit={size}"
            headers = {**headers, "Link": f'<{link}>; rel="next"'}
        return page, headers

    def _answer(self, status: int, body, headers: dict | None = None):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _decode(part: str) -> dict:
    value = json.loads(_unb64(part))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value
