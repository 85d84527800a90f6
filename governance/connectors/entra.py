"""The `entra` kind: Microsoft Entra ID through Microsoft Graph v1.0, as an app registration
with application permissions (client credentials with a certificate or a secret).

- Identities: users (with their manager), service principals (kind `service`, or `agent` for
  Entra Agent ID's `#microsoft.graph.agentIdentity`). Clients: service principals, keyed by
  `appId` (the OAuth client_id), the SP object id kept as `idp_id`.
- Grants: delegated `oauth2PermissionGrants` (grant_type `consent`; subject = `principalId`,
  "" for a tenant-wide `AllPrincipals` consent) and application permissions from each resource's
  `appRoleAssignedTo` held by a service principal (grant_type `application_permission`; subject
  = the client SP's object id, scopes = the app role's value). Graph names clients by SP object
  id; grants are given the `appId` so they match clients and the inventory.
- `grant_changes(state)`: Graph's delta query for delegated grants; `state` is the
  `@odata.deltaLink` the previous call returned (plain data for the caller to keep); an expired
  one (410) raises StateExpired. `list_other_grants()` lists the application permissions, which
  have no delta, so an incremental sync still sees every grant type.
- Revoke deletes the grant (a 404 is `already_absent`); `revoke_sign_in_sessions(user)` is the
  separate, blunt action (every app of that user). Deactivate sets the client's service
  principal `accountEnabled=false`. Entra has no RFC 7009/7662: a token value is NotSupported.
- Pages follow `@odata.nextLink` (same origin only: the token is never sent elsewhere), a
  repeated link ends the listing with an error; 429/503 carry Graph's `Retry-After`.

Config: `tenant_id`, `client_id` (required), `certificate_thumbprint` (with a certificate),
`timeout_seconds`; overrides `graph_url` (default https://graph.microsoft.com/v1.0) and
`login_url` (https://login.microsoftonline.com). The secret is either the private key (PEM) of
a certificate uploaded to the app registration, whose SHA-1 thumbprint (hex, as Entra shows it)
is `certificate_thumbprint` (the token request then carries an RFC 7523 client assertion,
assertion.certificate_assertion), or a client secret.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from urllib.parse import quote, urlencode, urlsplit

import httpx

from governance.connectors import assertion, transport
from governance.connectors.base import (
    ALL_CAPABILITIES,
    DEACTIVATE,
    LIST_CLIENTS,
    LIST_GRANTS,
    LIST_IDENTITIES,
    REVOKE,
    VERIFY,
    Check,
    Connector,
    ConnectorError,
    GrantChanges,
    IdpClient,
    IdpGrant,
    IdpIdentity,
    RevokeResult,
    StateExpired,
)
from governance.connectors.bearer import BearerSession, CursorGuard, error_of, failure

GRAPH_URL = "https://graph.microsoft.com/v1.0"
LOGIN_URL = "https://login.microsoftonline.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PAGE_SIZE = 999  # Graph's maximum $top for users and service principals
AGENT_TYPE = "#microsoft.graph.agentIdentity"
_USER_FIELDS = "id,displayName,userPrincipalName,mail,accountEnabled"
_SP_FIELDS = "id,appId,displayName,accountEnabled,servicePrincipalType,appRoles"

# The least application permission each call needs, named in errors and in verify().
PERMISSIONS = {
    LIST_IDENTITIES: "User.Read.All",
    LIST_CLIENTS: "Application.Read.All",
    LIST_GRANTS: "DelegatedPermissionGrant.Read.All (or Directory.Read.All) and "
    "Application.Read.All",
    REVOKE: "DelegatedPermissionGrant.ReadWrite.All and AppRoleAssignment.ReadWrite.All",
    DEACTIVATE: "Application.ReadWrite.All (or Application.ReadWrite.OwnedBy for owned apps)",
    "revoke_sign_in_sessions": "User.RevokeSessions.All",
}
# For writes verify() reads the token's `roles`: each need is met by any role of its set.
_ROLE_NEEDS = {
    REVOKE: (
        {"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"},
        {"AppRoleAssignment.ReadWrite.All", "Directory.ReadWrite.All"},
    ),
    DEACTIVATE: (
        {"Application.ReadWrite.All", "Application.ReadWrite.OwnedBy", "Directory.ReadWrite.All"},
    ),
}


class EntraConnector(Connector):
    """A connection to one Entra tenant through Microsoft Graph."""

    kind = "entra"
    capabilities = frozenset(
        {VERIFY, LIST_IDENTITIES, LIST_CLIENTS, LIST_GRANTS, REVOKE, DEACTIVATE}
    )
    # Graph's delta covers delegated grants; application permissions have no delta in v1.0.
    supports_incremental = True
    incremental_grant_types = frozenset({"consent"})

    def __init__(self, config, secret, *, mock: httpx.MockTransport | None = None):
        super().__init__(config, secret)
        for key in ("tenant_id", "client_id"):
            if not self.config.get(key):
                raise ConnectorError(f"the config needs {key!r}", call="configure")
        self.graph_url = (self.config.get("graph_url") or GRAPH_URL).rstrip("/")
        login_url = (self.config.get("login_url") or LOGIN_URL).rstrip("/")
        tenant = quote(str(self.config["tenant_id"]), safe="")
        try:
            total = float(self.config.get("timeout_seconds", 20))
        except (TypeError, ValueError):
            raise ConnectorError("timeout_seconds must be a number", call="configure") from None
        token_url = f"{login_url}/{tenant}/oauth2/v2.0/token"
        form = {"client_id": str(self.config["client_id"]), "scope": GRAPH_SCOPE}
        signed = self._assertion(token_url, secret) if is_private_key(secret) else None
        self.session = BearerSession(
            token_url=token_url,
            form=form if signed else {**form, "client_secret": secret},
            signed=signed,
            timeouts=transport.Timeouts(connect=min(5.0, total), read=total, total=total),
            mock=mock,
        )
        self._principals: dict[str, dict] | None = None

    def _assertion(self, token_url: str, pem: str):
        """The token request's client-assertion fields for a certificate credential, signed
        afresh for each request; a missing thumbprint or an unusable key fails here, at once."""
        thumbprint = str(self.config.get("certificate_thumbprint") or "")
        if not thumbprint:
            raise ConnectorError(
                "a certificate credential (a PEM private key) needs the config's "
                "'certificate_thumbprint' (the certificate's SHA-1 thumbprint shown by Entra)",
                call="configure",
            )

        def signed() -> dict[str, str]:
            client_id = str(self.config["client_id"])
            return {
                "client_assertion_type": JWT_BEARER,
                "client_assertion": assertion.certificate_assertion(
                    client_id=client_id, audience=token_url, pem=pem, thumbprint=thumbprint
                ),
            }

        try:
            signed()
        except assertion.InvalidKey as exc:
            raise ConnectorError(str(exc), call="configure") from None
        return signed

    # --- URLs (checked against msgraph-sdk's request builders in the tests) -------------------

    def url(self, path: str, **query: str | int) -> str:
        """`graph_url` + path, with OData query options (`select=` becomes `$select=`)."""
        params = urlencode({f"${k}": v for k, v in query.items()}, quote_via=quote, safe="$,()")
        return f"{self.graph_url}{path}{'?' + params if params else ''}"

    def users_url(self) -> str:
        return self.url("/users", select=_USER_FIELDS, expand="manager($select=id)", top=PAGE_SIZE)

    def principals_url(self) -> str:
        # Owners come along ($expand): who answers for a service principal or agent identity.
        return self.url(
            "/servicePrincipals", select=_SP_FIELDS, expand="owners($select=id)", top=PAGE_SIZE
        )

    def grant_url(self, grant_id: str = "") -> str:
        return self.url(f"/oauth2PermissionGrants{'/' + _seg(grant_id) if grant_id else ''}")

    def assigned_to_url(self, resource_id: str, assignment_id: str = "") -> str:
        tail = f"/{_seg(assignment_id)}" if assignment_id else ""
        return self.url(f"/servicePrincipals/{_seg(resource_id)}/appRoleAssignedTo{tail}")

    def principal_by_app_id_url(self, app_id: str) -> str:
        quoted = _seg(app_id.replace("'", "''"))  # OData doubles a quote inside a string
        return self.url(f"/servicePrincipals(appId='{quoted}')")

    def sign_in_sessions_url(self, user_id: str) -> str:
        return self.url(f"/users/{_seg(user_id)}/revokeSignInSessions")

    # --- the interface ----------------------------------------------------------------------

    def verify(self) -> list[Check]:
        try:
            roles = set(self.session.claims(call=VERIFY).get("roles") or ())
        except ConnectorError as exc:
            return [Check("token", False, str(exc))] + [
                Check(cap, False, f"not checked: {exc}") for cap in ALL_CAPABILITIES
            ]
        checks = [Check("token", True, f"token from {self.session.token_url}")]
        probes = {
            LIST_IDENTITIES: self.url("/users", select="id", top=1),
            LIST_CLIENTS: self.url("/servicePrincipals", select="id", top=1),
            LIST_GRANTS: self.url("/oauth2PermissionGrants", top=1),
        }
        for capability in ALL_CAPABILITIES:
            if capability not in self.capabilities:
                checks.append(Check(capability, False, str(self.unsupported(capability))))
            elif capability in probes:
                checks.append(self._probe(capability, probes[capability]))
            else:
                checks.append(_role_check(capability, roles))
        return checks

    def list_identities(self) -> Iterator[IdpIdentity]:
        for user in self._pages(self.users_url(), call=LIST_IDENTITIES):
            manager = user.get("manager")
            yield IdpIdentity(
                idp_id=str(user.get("id", "")),
                subject=str(user.get("id", "")),
                display_name=str(user.get("displayName") or ""),
                email=str(user.get("mail") or user.get("userPrincipalName") or ""),
                active=user.get("accountEnabled") is not False,
                kind="human",
                manager=str(manager.get("id", "")) if isinstance(manager, dict) else "",
                raw=user,
            )
        for sp in self._service_principals(LIST_IDENTITIES).values():
            yield IdpIdentity(
                idp_id=str(sp.get("id", "")),
                subject=str(sp.get("id", "")),
                display_name=str(sp.get("displayName") or ""),
                active=sp.get("accountEnabled") is not False,
                kind="agent" if sp.get("@odata.type") == AGENT_TYPE else "service",
                owner=_first_owner(sp),
                raw=sp,
            )

    def list_clients(self) -> Iterator[IdpClient]:
        for sp in self._service_principals(LIST_CLIENTS).values():
            yield IdpClient(
                idp_id=str(sp.get("id", "")),
                client_id=str(sp.get("appId", "")),
                name=str(sp.get("displayName") or ""),
                active=sp.get("accountEnabled") is not False,
                raw=sp,
            )

    def list_grants(self) -> Iterator[IdpGrant]:
        self._service_principals(LIST_GRANTS)
        for item in self._pages(self.grant_url(), call=LIST_GRANTS):
            yield self._consent(item)
        yield from self.list_other_grants()

    def list_other_grants(self) -> Iterator[IdpGrant]:
        """Application permissions (machine-to-machine), which Graph's delta does not cover."""
        principals = self._service_principals(LIST_GRANTS)
        for resource in principals.values():
            if not resource.get("appRoles"):
                continue  # nothing can be assigned on a resource without app roles
            url = self.assigned_to_url(str(resource.get("id", "")))
            for item in self._pages(url, call=LIST_GRANTS):
                if item.get("principalType") == "ServicePrincipal":  # machine-to-machine
                    yield self._app_permission(item, resource)

    def grant_changes(self, state: str = "") -> GrantChanges:
        """Delegated grants changed since `state` (the deltaLink of the previous call; "" for
        a first, full round). Graph answers 410 when a deltaLink has expired: StateExpired."""
        self._service_principals(LIST_GRANTS)
        url, guard = state or self.url("/oauth2PermissionGrants/delta()"), CursorGuard(LIST_GRANTS)
        changed, removed = [], []
        while True:
            guard.check(url)
            body = self._page(url, call=LIST_GRANTS)
            for item in _items(body):
                if "@removed" in item:
                    removed.append(str(item.get("id", "")))
                else:
                    changed.append(self._consent(item))
            if isinstance(body.get("@odata.deltaLink"), str):
                return GrantChanges(tuple(changed), tuple(removed), body["@odata.deltaLink"])
            url = self._next(body, url, call=LIST_GRANTS)
            if not url:
                raise ConnectorError(
                    "the delta round ended without an @odata.deltaLink",
                    call=LIST_GRANTS,
                    error_code="invalid_response",
                )

    def revoke(self, grant_or_token: IdpGrant | str) -> RevokeResult:
        if not isinstance(grant_or_token, IdpGrant):
            raise self.unsupported(
                REVOKE,
                "Entra has no token revocation endpoint: revoke a listed grant, or use "
                "revoke_sign_in_sessions for a user",
            )
        grant = grant_or_token
        if grant.grant_type == "application_permission":
            return self._delete_assignment(grant)
        url = self.grant_url(grant.idp_id)
        response = self.session.call("DELETE", url, call=REVOKE)
        return self._revoked(response, grant.idp_id, url)

    def revoke_sign_in_sessions(self, user_id: str) -> RevokeResult:
        """Invalidate every refresh token and browser session of one user (all apps, not one
        agent: a separate, higher-privilege action). Graph answers 200 or 204."""
        url = self.sign_in_sessions_url(user_id)
        response = self.session.call("POST", url, call=REVOKE)
        if 200 <= response.status < 300:
            return RevokeResult(RevokeResult.REVOKED, user_id, url, response.status)
        if response.status == 404:
            return RevokeResult(RevokeResult.ALREADY_ABSENT, user_id, url, response.status)
        raise self._failure(response, "revoke_sign_in_sessions")

    def deactivate(self, client_id: str) -> None:
        url = self.principal_by_app_id_url(client_id)
        response = self.session.call("PATCH", url, call=DEACTIVATE, json={"accountEnabled": False})
        if not 200 <= response.status < 300:
            raise self._failure(response, DEACTIVATE)

    # --- records ----------------------------------------------------------------------------

    def _consent(self, item: dict) -> IdpGrant:
        return IdpGrant(
            idp_id=str(item.get("id", "")),
            subject=str(item.get("principalId") or ""),
            client_id=self._app_id(item.get("clientId")),
            scopes=tuple(str(item.get("scope") or "").split()),
            grant_type="consent",
            raw=item,
        )

    def _app_permission(self, item: dict, resource: dict) -> IdpGrant:
        roles = {r.get("id"): r.get("value") for r in resource.get("appRoles") or ()}
        role = roles.get(item.get("appRoleId")) or str(item.get("appRoleId", ""))
        return IdpGrant(
            idp_id=str(item.get("id", "")),
            subject=str(item.get("principalId", "")),
            client_id=self._app_id(item.get("principalId")),
            scopes=(role,) if role else (),
            created=_when(item.get("createdDateTime")),
            grant_type="application_permission",
            raw=item,
        )

    def _app_id(self, principal_id) -> str:
        """The appId (OAuth client_id) of a service principal; its object id when unknown."""
        sp = (self._principals or {}).get(str(principal_id or ""))
        return str(sp.get("appId") or principal_id) if sp else str(principal_id or "")

    def _service_principals(self, call: str) -> dict[str, dict]:
        if self._principals is None:
            listed = self._pages(self.principals_url(), call=call)
            self._principals = {str(sp.get("id", "")): sp for sp in listed}
        return self._principals

    # --- calls ------------------------------------------------------------------------------

    def _pages(self, url: str, *, call: str) -> Iterator[dict]:
        guard = CursorGuard(call)
        while url:
            guard.check(url)
            body = self._page(url, call=call)
            yield from _items(body)
            url = self._next(body, url, call=call)

    def _page(self, url: str, *, call: str) -> dict:
        response = self.session.call("GET", url, call=call)
        if response.status != 200:
            raise self._failure(response, call)
        body = response.json(call=call)
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise ConnectorError(
                'expected {"value": [...]}',
                call=call,
                endpoint=url,
                status=response.status,
                error_code="invalid_response",
            )
        return body

    def _next(self, body: dict, url: str, *, call: str) -> str:
        link = body.get("@odata.nextLink")
        if not isinstance(link, str) or not link:
            return ""
        if _origin(link) != _origin(self.graph_url):  # the bearer token stays with Graph
            raise ConnectorError(
                f"the next page is on another host ({_origin(link)})",
                call=call,
                endpoint=url,
                error_code="foreign_next_link",
            )
        return link

    def _delete_assignment(self, grant: IdpGrant) -> RevokeResult:
        resource = str(grant.raw.get("resourceId") or "")
        if not resource or not grant.idp_id:
            raise ConnectorError(
                "an application permission is revoked at its resource: the grant's raw record "
                "needs resourceId (as list_grants gives it)",
                call=REVOKE,
                error_code="incomplete_grant",
            )
        url = self.assigned_to_url(resource, grant.idp_id)
        response = self.session.call("DELETE", url, call=REVOKE)
        code, message = error_of(response)
        if response.status == 400 and "not found" in message.lower():
            # Graph has answered a missing assignment with 400 "EntitlementGrant ... not found":
            # gone only if a GET agrees.
            if self.session.call("GET", url, call=REVOKE).status == 404:
                return RevokeResult(RevokeResult.ALREADY_ABSENT, grant.idp_id, url, 400)
        return self._revoked(response, grant.idp_id, url)

    def _revoked(self, response: transport.Response, target: str, url: str) -> RevokeResult:
        if response.status in (200, 204):
            return RevokeResult(RevokeResult.REVOKED, target, url, response.status)
        if response.status == 404:  # gone already: success, recorded distinctly
            return RevokeResult(RevokeResult.ALREADY_ABSENT, target, url, response.status)
        raise self._failure(response, REVOKE)

    def _failure(self, response: transport.Response, call: str) -> ConnectorError:
        hints = {
            403: f"the app registration lacks the Graph application permission "
            f"{PERMISSIONS.get(call, '?')} (with admin consent)",
            410: "the delta link has expired: start again with grant_changes('')",
        }
        error = failure(response, call, hints)
        if response.status == 410:
            return StateExpired(
                error.message,
                call=error.call,
                endpoint=error.endpoint,
                status=error.status,
                error_code=error.error_code,
            )
        return error

    def _probe(self, capability: str, url: str) -> Check:
        try:
            self._page(url, call=capability)
        except ConnectorError as exc:
            return Check(capability, False, str(exc))
        return Check(capability, True, f"{url} answered")


def _role_check(capability: str, roles: set[str]) -> Check:
    if not roles:
        return Check(capability, True, "the token lists no roles: checked at first use")
    if any(not need & roles for need in _ROLE_NEEDS[capability]):
        return Check(capability, False, f"missing Graph permission: {PERMISSIONS[capability]}")
    return Check(capability, True, f"granted ({PERMISSIONS[capability]})")


def _items(body: dict) -> list[dict]:
    return [item for item in body["value"] if isinstance(item, dict)]


def _seg(value: str) -> str:
    return quote(str(value), safe="'")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _when(value) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _first_owner(principal: dict) -> str:
    """The first listed owner's id (Graph lists owners in no meaningful order; the ledger keeps
    one owner per identity, and the raw record keeps them all)."""
    owners = principal.get("owners")
    if isinstance(owners, list):
        for owner in owners:
            if isinstance(owner, dict) and owner.get("id"):
                return str(owner["id"])
    return ""


def is_private_key(secret: str) -> bool:
    """Whether the credential is a certificate's private key (PEM) rather than a secret."""
    return "PRIVATE KEY-----" in secret
