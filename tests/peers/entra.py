"""A scripted Microsoft Graph v1.0 + Entra token endpoint on 127.0.0.1, from Microsoft's docs.

What it answers, as documented (learn.microsoft.com/graph: oauth2permissiongrant-list/-delete/
-delta, serviceprincipal-list-approleassignedto/-delete-approleassignedto, user-list,
user-revokesigninsessions, serviceprincipal-update, throttling):
- `POST /{tenant}/oauth2/v2.0/token` (client credentials, scope `.default`): a JWT-shaped token
  whose `roles` are the application permissions the test granted; 401 `invalid_client`. The
  client authenticates with its secret, or with a certificate (learn.microsoft.com/entra:
  certificate-credentials): an RFC 7523 `client_assertion` whose header `x5t` names one of the
  app's `certificates` and whose RS256 signature that certificate's key verifies, with aud =
  this token endpoint, iss = sub = client_id, nbf <= now < exp, and a jti not seen before;
  anything else is 401 `invalid_client` with the AADSTS code Entra gives (AADSTS700027 for a
  signature or key that does not match).
- Collections answer `{"value": [...], "@odata.nextLink"}` with `$skiptoken` pages (a page is at
  most `page_limit` long, so small seeds still page); `delta()` ends with `@odata.deltaLink`,
  and a `$deltatoken` gives the changes since, deleted grants as `@removed`.
- Containment (issue 13): `GET /users/{id}`, `GET /servicePrincipals(appId='…')`, grants
  `$filter`ed by `clientId`/`principalId` (`eq`, joined by `and`), a principal's
  `appRoleAssignments`, `revokeSignInSessions` answering 200 with `{"value": true}` (the
  documented known issue: not 204), and an agent identity's own update path
  `PATCH /servicePrincipals/{id}/microsoft.graph.agentIdentity` (AgentIdentity.EnableDisable.All;
  404 for a principal that is no agent identity).
- Each call checks the token and its roles: 401 `InvalidAuthenticationToken`, 403
  `Authorization_RequestDenied`. Deleting a missing grant is 404 `Request_ResourceNotFound`;
  deleting a missing app-role assignment is 400 "EntitlementGrant being updated or deleted is
  not found" (as reported in microsoft-graph-docs-contrib#3614), and its GET 404.
- `fail_next(n, 429, headers={"Retry-After": "3"})` scripts throttling; `repeat_cursor` makes the
  next link repeat itself.
"""

from __future__ import annotations

import base64
import datetime
import itertools
import json
import re
import time
from urllib.parse import urlencode

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.peers.vendor_api import Answer, Request, ScriptedPeer, unsigned_jwt

TENANT = "contoso-tenant"
CLIENT_ID = "console-app"
SECRET = "entra-console-secret"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW_SECONDS = 300
_BAD_SIGNATURE = "AADSTS700027: Client assertion contains an invalid signature."
ALL_ROLES = (
    "User.Read.All",
    "Application.Read.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "Application.ReadWrite.All",
    "User.RevokeSessions.All",
    "AgentIdentity.EnableDisable.All",
)
_READ_GRANTS = {"DelegatedPermissionGrant.ReadWrite.All", "DelegatedPermissionGrant.Read.All"}
_ASSIGNED = r"/servicePrincipals/([^/]+)/appRoleAssignedTo"
# (method, path pattern) -> the roles any one of which allows the call (Graph's permission pages)
_BY_APP_ID = r"/servicePrincipals\(appId='([^']*)'\)"
_AGENT_ROLES = {"AgentIdentity.EnableDisable.All", "AgentIdentity.ReadWrite.All"}
_ROUTES = [
    ("GET", r"/users", {"User.Read.All"}, "users"),
    ("GET", r"/users/([^/]+)", {"User.Read.All"}, "user"),
    ("POST", r"/users/([^/]+)/revokeSignInSessions", {"User.RevokeSessions.All"}, "revoke_users"),
    ("GET", r"/servicePrincipals", {"Application.Read.All"}, "principals"),
    ("GET", _BY_APP_ID, {"Application.Read.All"}, "principal"),
    ("PATCH", _BY_APP_ID, {"Application.ReadWrite.All"}, "patch"),
    ("PATCH", r"/servicePrincipals/([^/]+)/microsoft\.graph\.agentIdentity", _AGENT_ROLES,
     "patch_agent"),
    ("GET", r"/servicePrincipals/([^/]+)/appRoleAssignments", {"Application.Read.All"},
     "role_assignments"),
    ("GET", _ASSIGNED, {"Application.Read.All"}, "assigned"),
    ("GET", _ASSIGNED + r"/([^/]+)", {"Application.Read.All"}, "one"),
    ("DELETE", _ASSIGNED + r"/([^/]+)", {"AppRoleAssignment.ReadWrite.All"}, "unassign"),
    ("GET", r"/oauth2PermissionGrants", _READ_GRANTS, "grants"),
    ("GET", r"/oauth2PermissionGrants/delta\(\)", _READ_GRANTS, "delta"),
    ("DELETE", r"/oauth2PermissionGrants/([^/]+)", {"DelegatedPermissionGrant.ReadWrite.All"},
     "delete_grant"),
]  # fmt: skip


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}})


def make_certificate(key: rsa.RSAPrivateKey | None = None) -> tuple[str, x509.Certificate]:
    """A private key (PEM) and a self-signed certificate for it, as an admin makes one to
    upload to the app registration."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcp-governance console")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, certificate


def thumbprint(certificate: x509.Certificate) -> str:
    """The certificate's SHA-1 thumbprint in hex, as the Entra portal shows it."""
    return certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - Entra's x5t


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class EntraPeer(ScriptedPeer):
    """Graph + the token endpoint, seeded with a small tenant."""

    token_path = f"/{TENANT}/oauth2/v2.0/token"

    def __init__(self, *, page_limit: int = 2):
        super().__init__()
        self.page_limit = page_limit
        self.roles = list(ALL_ROLES)
        self.repeat_cursor = False
        self.secret = SECRET
        self.certificates: list[x509.Certificate] = []  # uploaded to the app registration
        self.assertions: list[tuple[dict, dict]] = []  # (header, claims) of accepted ones
        self._jtis: set[str] = set()
        self.tokens: set[str] = set()
        self.revoked_sessions: list[str] = []
        self._seq = itertools.count(1)
        self.changes: list[tuple[int, str]] = []  # (sequence, grant id) for delta
        self.seed()

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    def config(self) -> dict:
        return {
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "graph_url": self.graph_url,
            "login_url": self.url,
        }

    def seed(self) -> None:
        self.users = {
            "u-alice": {"id": "u-alice", "displayName": "Alice", "mail": "alice@contoso.test",
                        "userPrincipalName": "alice@contoso.test", "accountEnabled": True,
                        "manager": "u-bob"},
            "u-bob": {"id": "u-bob", "displayName": "Bob", "mail": None,
                      "userPrincipalName": "bob@contoso.test", "accountEnabled": True},
            "u-carol": {"id": "u-carol", "displayName": "Carol", "mail": "carol@contoso.test",
                        "userPrincipalName": "carol@contoso.test", "accountEnabled": False},
        }  # fmt: skip
        self.principals = {
            "sp-graph": {"id": "sp-graph", "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph",
                         "accountEnabled": True, "servicePrincipalType": "Application",
                         "appRoles": [{"id": "role-users", "value": "User.Read.All"}]},
            "sp-agent": {"@odata.type": "#microsoft.graph.agentIdentity", "id": "sp-agent",
                         "appId": "app-agent", "displayName": "Billing agent",
                         "accountEnabled": True, "servicePrincipalType": "Application",
                         "appRoles": []},
            "sp-svc": {"id": "sp-svc", "appId": "app-svc", "displayName": "Nightly job",
                       "accountEnabled": True, "servicePrincipalType": "Application",
                       "appRoles": []},
        }  # fmt: skip
        # Owners (a navigation property, shown only under $expand=owners): who answers for a
        # service principal or an agent identity.
        self.owners = {"sp-agent": ["u-alice"], "sp-svc": ["u-bob", "u-alice"]}
        self.grants = {}
        self.put_grant("g-alice", "sp-agent", "u-alice", "User.Read Mail.Read")
        self.put_grant("g-tenant", "sp-svc", None, "openid profile")
        self.assignments = {
            "sp-graph": {
                "a-svc": {"id": "a-svc", "appRoleId": "role-users", "principalId": "sp-svc",
                          "principalType": "ServicePrincipal", "resourceId": "sp-graph",
                          "createdDateTime": "2026-11-01T10:00:00Z"},
                "a-user": {"id": "a-user", "appRoleId": "role-users", "principalId": "u-alice",
                           "principalType": "User", "resourceId": "sp-graph",
                           "createdDateTime": "2026-11-02T10:00:00Z"},
            }
        }  # fmt: skip

    def put_grant(self, grant_id, client, principal, scope) -> None:
        """Add or change a delegated grant (recorded for delta)."""
        self.grants[grant_id] = {
            "id": grant_id,
            "clientId": client,
            "consentType": "Principal" if principal else "AllPrincipals",
            "principalId": principal,
            "resourceId": "sp-graph",
            "scope": scope,
        }
        self.changes.append((next(self._seq), grant_id))

    # --- answers ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        if request.method == "POST" and request.path == self.token_path:
            return self._token(request)
        if not request.path.startswith("/v1.0/"):
            return _error(404, "Request_ResourceNotFound", "no such path")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return _error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        path = request.path.removeprefix("/v1.0")
        for method, pattern, roles, name in _ROUTES:
            match = re.fullmatch(pattern, path)
            if method == request.method and match:
                if not roles & set(self.roles) and not self._directory(request.method):
                    return _error(
                        403,
                        "Authorization_RequestDenied",
                        "Insufficient privileges to complete the operation.",
                    )
                return getattr(self, f"_{name}")(request, *match.groups())
        return _error(400, "BadRequest", f"Resource not found for the segment '{path}'.")

    def _directory(self, method: str) -> bool:
        return ("Directory.Read.All" if method == "GET" else "Directory.ReadWrite.All") in set(
            self.roles
        )

    def _token(self, request: Request) -> Answer:
        form = request.form
        if "client_assertion" in form:
            refused = self._refused_assertion(form)
            if refused:
                return Answer(401, {"error": "invalid_client", "error_description": refused})
        elif (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, self.secret):
            description = "AADSTS7000215: Invalid client secret provided."
            return Answer(401, {"error": "invalid_client", "error_description": description})
        if form.get("grant_type") != "client_credentials" or not form.get("scope", "").endswith(
            "/.default"
        ):
            return Answer(400, {"error": "invalid_request", "error_description": "AADSTS1002012"})
        token = unsigned_jwt({"roles": list(self.roles), "tid": TENANT})
        self.tokens.add(token)
        return Answer(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token})

    def _refused_assertion(self, form: dict[str, str]) -> str:
        """Why Entra refuses this client assertion ("" when it accepts it)."""
        if form.get("client_assertion_type") != JWT_BEARER:
            return "AADSTS7000216: 'client_assertion_type' must be jwt-bearer."
        try:
            header_part, claims_part, signature = form["client_assertion"].split(".")
            header = json.loads(_b64decode(header_part))
            claims = json.loads(_b64decode(claims_part))
        except ValueError:
            return "AADSTS50027: JWT token is invalid or malformed."
        certificate = next((c for c in self.certificates if _x5t(c) == header.get("x5t")), None)
        if header.get("alg") != "RS256" or certificate is None:
            return f"{_BAD_SIGNATURE} [Reason - The key was not found.]"
        try:
            certificate.public_key().verify(
                _b64decode(signature),
                f"{header_part}.{claims_part}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return f"{_BAD_SIGNATURE} [Reason - The provided signature value did not match.]"
        if not claims.get("iss") == claims.get("sub") == form.get("client_id") == CLIENT_ID:
            return (
                "AADSTS700021: Client assertion application identifier doesn't match "
                "'client_id' parameter."
            )
        if claims.get("aud") != f"{self.url}{self.token_path}":
            return "AADSTS700016: The client assertion's audience is not this token endpoint."
        now = time.time()
        nbf, exp = claims.get("nbf"), claims.get("exp")
        if not isinstance(nbf, int) or not isinstance(exp, int):
            return "AADSTS700024: Client assertion is not within its valid time range."
        if nbf > now + CLOCK_SKEW_SECONDS or exp <= now:
            return "AADSTS700024: Client assertion is not within its valid time range."
        if not claims.get("jti") or claims["jti"] in self._jtis:
            return "AADSTS7000269: The client assertion's jti was already used."
        self._jtis.add(claims["jti"])
        self.assertions.append((header, claims))
        return ""

    def _page(self, request: Request, items: list[dict], *, last: dict | None = None) -> Answer:
        skip = int(request.query.get("$skiptoken", 0))
        top = min(int(request.query.get("$top", 100)), self.page_limit)
        body = {"value": items[skip : skip + top]}
        if skip + top < len(items):
            following = skip if (self.repeat_cursor and skip) else skip + top
            query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = str(following)
            body["@odata.nextLink"] = f"{self.url}{request.raw_path}?{urlencode(query)}"
        elif last:
            body.update(last)
        return Answer(200, body)

    def _users(self, request):
        expand = "manager" in request.query.get("$expand", "")
        users = []
        for user in self.users.values():
            shown = {k: v for k, v in user.items() if k != "manager"}
            if expand and user.get("manager"):
                shown["manager"] = {"@odata.type": "#microsoft.graph.user", "id": user["manager"]}
            users.append(shown)
        return self._page(request, users)

    def _principals(self, request):
        expand = "owners" in request.query.get("$expand", "")
        principals = []
        for sp in self.principals.values():
            shown = dict(sp)
            if expand:
                owners = self.owners.get(sp["id"], [])
                shown["owners"] = [
                    {"@odata.type": "#microsoft.graph.user", "id": o} for o in owners
                ]
            principals.append(shown)
        return self._page(request, principals)

    def _grants(self, request):
        grants = list(self.grants.values())
        condition = request.query.get("$filter")
        if condition:
            terms = re.findall(r"(\w+) eq '((?:[^']|'')*)'", condition)
            if not terms or len(terms) != condition.count(" eq "):
                return _error(400, "BadRequest", f"Invalid filter clause: {condition}")
            wanted = {key: value.replace("''", "'") for key, value in terms}
            grants = [g for g in grants if all(g.get(k) == v for k, v in wanted.items())]
        return self._page(request, grants)

    def _delta(self, request):
        since = request.query.get("$deltatoken")
        if since is None:
            items = list(self.grants.values())
        elif not since.isdigit():  # a state this tenant no longer knows
            return _error(410, "syncStateNotFound", "The delta token has expired.")
        else:
            changed = dict.fromkeys(g for seq, g in self.changes if seq > int(since))
            items = [
                self.grants.get(g) or {"id": g, "@removed": {"reason": "deleted"}} for g in changed
            ]
        latest = self.changes[-1][0] if self.changes else 0
        link = f"{self.graph_url}/oauth2PermissionGrants/delta()?$deltatoken={latest}"
        return self._page(request, items, last={"@odata.deltaLink": link})

    def _delete_grant(self, request, grant_id):
        if self.grants.pop(grant_id, None) is None:
            return _error(404, "Request_ResourceNotFound", f"Resource '{grant_id}' does not exist")
        self.changes.append((next(self._seq), grant_id))
        return Answer(204)

    def _assigned(self, request, resource):
        return self._page(request, list(self.assignments.get(resource, {}).values()))

    def _one(self, request, resource, assignment):
        found = self.assignments.get(resource, {}).get(assignment)
        return Answer(200, found) if found else _error(404, "Request_ResourceNotFound", "gone")

    def _unassign(self, request, resource, assignment):
        if self.assignments.get(resource, {}).pop(assignment, None) is None:
            return _error(
                400,
                "Request_BadRequest",
                "Permission being updated or deleted was not found. EntitlementGrant being "
                "updated or deleted is not found.",
            )
        return Answer(204)

    def _revoke_users(self, request, user_id):
        if user_id not in self.users:
            return _error(404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist")
        self.revoked_sessions.append(user_id)
        return Answer(200, {"@odata.context": "...", "value": True})

    def _by_app_id(self, app_id):
        return next((s for s in self.principals.values() if s["appId"] == app_id), None)

    def _principal(self, request, app_id):
        sp = self._by_app_id(app_id)
        if sp is None:
            return _error(404, "Request_ResourceNotFound", f"appId '{app_id}' does not exist")
        return Answer(200, dict(sp))

    def _patch(self, request, app_id):
        sp = self._by_app_id(app_id)
        if sp is None:
            return _error(404, "Request_ResourceNotFound", f"appId '{app_id}' does not exist")
        sp.update(request.json())
        return Answer(204)

    def _patch_agent(self, request, principal_id):
        sp = self.principals.get(principal_id)
        if sp is None or sp.get("@odata.type") != "#microsoft.graph.agentIdentity":
            return _error(404, "Request_ResourceNotFound", f"'{principal_id}' is no agent identity")
        sp.update(request.json())
        return Answer(204)

    def _user(self, request, user_id):
        if user_id not in self.users:
            return _error(404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist")
        return Answer(200, {"id": user_id})

    def _role_assignments(self, request, principal_id):
        held = [
            a
            for assignments in self.assignments.values()
            for a in assignments.values()
            if a["principalId"] == principal_id
        ]
        return self._page(request, held)


def _x5t(certificate: x509.Certificate) -> str:
    digest = certificate.fingerprint(hashes.SHA1())  # noqa: S303 - Entra's x5t is SHA-1
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
