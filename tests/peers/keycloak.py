"""A scripted Keycloak (Quarkus distribution) admin REST API + token endpoint on 127.0.0.1,
from Keycloak's server source and admin docs (UserResource, ClientResource,
RealmAdminResource; idp.md §3).

What it answers:
- `POST /realms/{realm}/protocol/openid-connect/token` (client credentials): a JWT-shaped token
  whose `resource_access.realm-management.roles` are the roles the test granted; 401
  `invalid_client` "Invalid client or Invalid client credentials".
- `GET /admin/realms/{realm}/users|clients?first=&max=` (plain arrays; `max` defaults to 100),
  `GET /users/{id}/consents` (no pagination), `GET /clients/{uuid}/offline-sessions?first=&max=`.
- `DELETE /users/{id}/consents/{clientId}`: 204, then 404 "Consent nor offline token not found";
  an unknown client is 404 "Client not found". `DELETE /sessions/{id}?isOffline=true`: 204/404.
- `GET`/`PUT /clients/{uuid}`: PUT takes the full ClientRepresentation (Keycloak replaces the
  client with it), so a body missing any field the client has is refused 400 here rather than
  silently resetting those fields.
- `GET /users/{id}`; `POST /users/{id}/logout`: 204 (not-before set to now, online sessions
  ended; recorded in `logouts`), 404 "User not found".
- Every admin call checks the token and the realm-management role it needs: 401, 403.
- `fail_next(n, 503, headers={"Retry-After": "2"})` for a proxy in front of Keycloak; `ignore_first`
  makes it answer every page as the first (a server that loops).
"""

from __future__ import annotations

import re

from tests.peers.vendor_api import Answer, Request, ScriptedPeer, unsigned_jwt

REALM = "agents"
CLIENT_ID = "mcp-console"
SECRET = "keycloak-console-secret"
ALL_ROLES = ("view-users", "manage-users", "view-clients", "manage-clients")
# Manage implies view in Keycloak's admin permissions.
_IMPLIED = {"view-users": "manage-users", "view-clients": "manage-clients"}
_ROUTES = [
    ("GET", r"/users", "view-users", "users"),
    ("GET", r"/users/([^/]+)", "view-users", "user"),
    ("POST", r"/users/([^/]+)/logout", "manage-users", "logout"),
    ("GET", r"/users/([^/]+)/consents", "view-users", "consents"),
    ("DELETE", r"/users/([^/]+)/consents/([^/]+)", "manage-users", "revoke_consent"),
    ("GET", r"/clients", "view-clients", "clients"),
    ("GET", r"/clients/([^/]+)", "view-clients", "client"),
    ("PUT", r"/clients/([^/]+)", "manage-clients", "put_client"),
    ("GET", r"/clients/([^/]+)/offline-sessions", "view-clients", "offline"),
    ("DELETE", r"/sessions/([^/]+)", "manage-users", "delete_session"),
]


class KeycloakPeer(ScriptedPeer):
    """One realm, seeded with people, an agent client and its consents and offline sessions."""

    token_path = f"/realms/{REALM}/protocol/openid-connect/token"

    def __init__(self):
        super().__init__()
        self.roles = list(ALL_ROLES)
        self.secret = SECRET
        self.tokens: set[str] = set()
        self.ignore_first = False
        self.logouts: list[str] = []
        self.seed()

    def config(self) -> dict:
        return {"base_url": self.url, "realm": REALM, "client_id": CLIENT_ID}

    def seed(self) -> None:
        self.users = {
            f"user-{n:02d}": {"id": f"user-{n:02d}", "username": f"person{n:02d}",
                              "firstName": f"Person {n:02d}", "email": f"p{n:02d}@example.test",
                              "enabled": True}
            for n in range(5)
        }  # fmt: skip
        self.users["sa-console"] = {
            "id": "sa-console",
            "username": "service-account-mcp-console",
            "enabled": True,
            "serviceAccountClientId": CLIENT_ID,
        }
        self.clients = {
            "c-agent": {"id": "c-agent", "clientId": "billing-agent", "name": "Billing agent",
                        "enabled": True, "publicClient": False, "redirectUris": []},
            "c-console": {"id": "c-console", "clientId": CLIENT_ID, "enabled": True,
                          "serviceAccountsEnabled": True},
        }  # fmt: skip
        # user id -> clientId -> consent (UserConsentRepresentation)
        self.consents = {
            "user-01": {"billing-agent": {"clientId": "billing-agent",
                                          "grantedClientScopes": ["profile", "billing:read"],
                                          "createdDate": 1764000000000,
                                          "lastUpdatedDate": 1764000500000,
                                          "additionalGrants": [{"client": "c-agent",
                                                                "key": "Offline Token"}]}},
        }  # fmt: skip
        # client uuid -> offline sessions (UserSessionRepresentation)
        self.offline = {
            "c-agent": [
                {"id": f"off-{n}", "userId": "user-01", "username": "person01",
                 "start": 1764000000000 + n, "lastAccess": 1764000900000,
                 "clients": {"c-agent": "billing-agent"}}
                for n in range(3)
            ]
        }  # fmt: skip

    # --- answers ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        if request.path == self.token_path:
            return self._token(request)
        prefix = f"/admin/realms/{REALM}"
        if not request.path.startswith(prefix + "/"):
            return Answer(404, {"error": "Realm not found."})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return Answer(401, {"error": "HTTP 401 Unauthorized"})
        path = request.path.removeprefix(prefix)
        for method, pattern, role, name in _ROUTES:
            match = re.fullmatch(pattern, path)
            if method == request.method and match:
                if role not in self.roles and _IMPLIED.get(role) not in self.roles:
                    return Answer(403, {"error": "HTTP 403 Forbidden"})
                return getattr(self, f"_{name}")(request, *match.groups())
        return Answer(404, {"error": "HTTP 404 Not Found"})

    def _token(self, request: Request) -> Answer:
        form = request.form
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, self.secret):
            description = "Invalid client or Invalid client credentials"
            return Answer(401, {"error": "invalid_client", "error_description": description})
        if form.get("grant_type") != "client_credentials":
            return Answer(400, {"error": "unsupported_grant_type"})
        claims = {"azp": CLIENT_ID, "resource_access": {"realm-management": {"roles": self.roles}}}
        token = unsigned_jwt(claims)
        self.tokens.add(token)
        return Answer(200, {"access_token": token, "expires_in": 300, "token_type": "Bearer"})

    def _page(self, request: Request, items: list) -> Answer:
        first = 0 if self.ignore_first else int(request.query.get("first", 0))
        size = int(request.query.get("max", 100))
        return Answer(200, items[first : first + size])

    def _users(self, request):
        return self._page(request, list(self.users.values()))

    def _clients(self, request):
        wanted = request.query.get("clientId")
        clients = [c for c in self.clients.values() if wanted in (None, c["clientId"])]
        return self._page(request, clients)

    def _client(self, request, uuid):
        found = self.clients.get(uuid)
        return Answer(200, found) if found else Answer(404, {"error": "Could not find client"})

    def _put_client(self, request, uuid):
        body = request.json()
        if uuid not in self.clients:
            return Answer(404, {"error": "Could not find client"})
        stored = self.clients[uuid]
        missing = sorted(set(stored) - set(body)) if isinstance(body, dict) else ["*"]
        if missing or body.get("clientId") != stored["clientId"] or body.get("id") != uuid:
            message = f"a full ClientRepresentation is expected (missing: {', '.join(missing)})"
            return Answer(400, {"errorMessage": message})
        self.clients[uuid] = body
        return Answer(204)

    def _user(self, request, user_id):
        found = self.users.get(user_id)
        return Answer(200, found) if found else Answer(404, {"error": "User not found"})

    def _logout(self, request, user_id):
        if user_id not in self.users:
            return Answer(404, {"error": "User not found"})
        self.logouts.append(user_id)
        return Answer(204)

    def _consents(self, request, user_id):
        if user_id not in self.users:
            return Answer(404, {"error": "User not found"})
        return Answer(200, list(self.consents.get(user_id, {}).values()))

    def _revoke_consent(self, request, user_id, client_id):
        if user_id not in self.users:
            return Answer(404, {"error": "User not found"})
        client = next((c for c in self.clients.values() if c["clientId"] == client_id), None)
        if client is None:
            return Answer(404, {"error": "Client not found"})
        consent = self.consents.get(user_id, {}).pop(client_id, None)
        sessions = self.offline.get(client["id"], [])
        mine = [s for s in sessions if s["userId"] == user_id]
        self.offline[client["id"]] = [s for s in sessions if s["userId"] != user_id]
        if consent is None and not mine:
            return Answer(404, {"error": "Consent nor offline token not found"})
        return Answer(204)

    def _offline(self, request, uuid):
        return self._page(request, self.offline.get(uuid, []))

    def _delete_session(self, request, session_id):
        for uuid, sessions in self.offline.items():
            kept = [s for s in sessions if s["id"] != session_id]
            if len(kept) != len(sessions):
                self.offline[uuid] = kept
                return Answer(204)
        return Answer(404, {"error": "Session not found"})
