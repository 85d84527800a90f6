"""The entra connector: a Graph token by client credentials (secret or certificate), paged
calls, listing (in full or by delta), revoking, deactivating and verifying (see the package
docstring for what each capability calls and needs)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx

from governance.connectors import transport
from governance.connectors.base import (
    CUT_OFF_IDENTITY,
    DEACTIVATE,
    LIST_CLIENTS,
    LIST_GRANTS,
    LIST_IDENTITIES,
    REVOKE,
    REVOKE_CLIENT_GRANTS,
    REVOKE_USER_CLIENT,
    VERIFY,
    Check,
    Connector,
    ConnectorError,
    GrantChanges,
    IdpClient,
    IdpGrant,
    IdpIdentity,
    RevokeResult,
)
from governance.connectors.bearer import BearerSession, CursorGuard, error_of
from governance.connectors.entra import answers
from governance.connectors.entra.containment import Containment
from governance.connectors.entra.credential import certificate_signer, is_private_key
from governance.connectors.entra.urls import GRAPH_URL, GraphUrls, origin

LOGIN_URL = "https://login.microsoftonline.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class EntraConnector(GraphUrls, Containment, Connector):
    """A connection to one Entra tenant through Microsoft Graph."""

    kind = "entra"
    capabilities = frozenset(
        {VERIFY, LIST_IDENTITIES, LIST_CLIENTS, LIST_GRANTS, REVOKE, DEACTIVATE}
        | {REVOKE_USER_CLIENT, CUT_OFF_IDENTITY, REVOKE_CLIENT_GRANTS}
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
        signed = (
            certificate_signer(self.config, token_url, secret) if is_private_key(secret) else None
        )
        self.session = BearerSession(
            token_url=token_url,
            form=form if signed else {**form, "client_secret": secret},
            signed=signed,
            timeouts=transport.Timeouts(connect=min(5.0, total), read=total, total=total),
            mock=mock,
        )
        self._principals: dict[str, dict] | None = None

    # --- the interface ----------------------------------------------------------------------

    def verify(self) -> list[Check]:
        try:
            roles = set(self.session.claims(call=VERIFY).get("roles") or ())
        except ConnectorError as exc:
            return [Check("token", False, str(exc))] + [
                Check(cap, False, f"not checked: {exc}") for cap in self.reported_capabilities()
            ]
        checks = [Check("token", True, f"token from {self.session.token_url}")]
        probes = {
            LIST_IDENTITIES: self.url("/users", select="id", top=1),
            LIST_CLIENTS: self.url("/servicePrincipals", select="id", top=1),
            LIST_GRANTS: self.url("/oauth2PermissionGrants", top=1),
        }
        for capability in self.reported_capabilities():
            if capability not in self.capabilities:
                checks.append(Check(capability, False, str(self.unsupported(capability))))
            elif capability in probes:
                checks.append(self._probe(capability, probes[capability]))
            else:
                checks.append(answers.role_check(capability, roles))
        return checks

    def list_identities(self) -> Iterator[IdpIdentity]:
        for user in self._pages(self.users_url(), call=LIST_IDENTITIES):
            yield answers.user_identity(user)
        for sp in self._service_principals(LIST_IDENTITIES).values():
            yield answers.principal_identity(sp)

    def list_clients(self) -> Iterator[IdpClient]:
        for sp in self._service_principals(LIST_CLIENTS).values():
            yield answers.client(sp)

    def list_grants(self) -> Iterator[IdpGrant]:
        principals = self._service_principals(LIST_GRANTS)
        for item in self._pages(self.grant_url(), call=LIST_GRANTS):
            yield answers.consent(item, principals)
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
                    yield answers.app_permission(item, resource, principals)

    def grant_changes(self, state: str = "") -> GrantChanges:
        """Delegated grants changed since `state` (the deltaLink of the previous call; "" for
        a first, full round). Graph answers 410 when a deltaLink has expired: StateExpired."""
        principals = self._service_principals(LIST_GRANTS)
        url, guard = state or self.url("/oauth2PermissionGrants/delta()"), CursorGuard(LIST_GRANTS)
        changed, removed = [], []
        while True:
            guard.check(url)
            body = self._page(url, call=LIST_GRANTS)
            for item in answers.items(body):
                if "@removed" in item:
                    removed.append(str(item.get("id", "")))
                else:
                    changed.append(answers.consent(item, principals))
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

    def revoke_sign_in_sessions(self, user_id: str, *, call: str = REVOKE) -> RevokeResult:
        """Invalidate every refresh token and browser session of one user (all apps, not one
        agent: a separate, higher-privilege action). Graph answers 200 `{"value": true}` (its
        docs note the 200 where 204 was expected) or 204; a 404 is a user Graph does not have."""
        url = self.sign_in_sessions_url(user_id)
        response = self.session.call("POST", url, call=call)
        if response.status == 200 and response.content:
            body = response.json(call=call)
            if isinstance(body, dict) and body.get("value") is False:
                raise ConnectorError(
                    'Graph answered {"value": false}: the sessions were not revoked',
                    call=call,
                    endpoint=url,
                    status=response.status,
                    error_code="not_revoked",
                )
        if 200 <= response.status < 300:
            return RevokeResult(RevokeResult.REVOKED, user_id, url, response.status)
        if response.status == 404:
            return RevokeResult(RevokeResult.ALREADY_ABSENT, user_id, url, response.status)
        raise answers.failure(response, call)

    # --- calls ------------------------------------------------------------------------------

    def _service_principals(self, call: str) -> dict[str, dict]:
        if self._principals is None:
            listed = self._pages(self.principals_url(), call=call)
            self._principals = {str(sp.get("id", "")): sp for sp in listed}
        return self._principals

    def _pages(self, url: str, *, call: str) -> Iterator[dict]:
        guard = CursorGuard(call)
        while url:
            guard.check(url)
            body = self._page(url, call=call)
            yield from answers.items(body)
            url = self._next(body, url, call=call)

    def _page(self, url: str, *, call: str) -> dict:
        response = self.session.call("GET", url, call=call)
        if response.status != 200:
            raise answers.failure(response, call)
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
        if origin(link) != origin(self.graph_url):  # the bearer token stays with Graph
            raise ConnectorError(
                f"the next page is on another host ({origin(link)})",
                call=call,
                endpoint=url,
                error_code="foreign_next_link",
            )
        return link

    def _delete_assignment(self, grant: IdpGrant, *, call: str = REVOKE) -> RevokeResult:
        resource = str(grant.raw.get("resourceId") or "")
        if not resource or not grant.idp_id:
            raise ConnectorError(
                "an application permission is revoked at its resource: the grant's raw record "
                "needs resourceId (as list_grants gives it)",
                call=call,
                error_code="incomplete_grant",
            )
        url = self.assigned_to_url(resource, grant.idp_id)
        response = self.session.call("DELETE", url, call=call)
        code, message = error_of(response)
        if response.status == 400 and "not found" in message.lower():
            # Graph has answered a missing assignment with 400 "EntitlementGrant ... not found":
            # gone only if a GET agrees.
            if self.session.call("GET", url, call=call).status == 404:
                return RevokeResult(RevokeResult.ALREADY_ABSENT, grant.idp_id, url, 400)
        return self._revoked(response, grant.idp_id, url, call=call)

    def _revoked(
        self, response: transport.Response, target: str, url: str, *, call: str = REVOKE
    ) -> RevokeResult:
        if response.status in (200, 204):
            return RevokeResult(RevokeResult.REVOKED, target, url, response.status)
        if response.status == 404:  # gone already: success, recorded distinctly
            return RevokeResult(RevokeResult.ALREADY_ABSENT, target, url, response.status)
        raise answers.failure(response, call)

    def _probe(self, capability: str, url: str) -> Check:
        try:
            self._page(url, call=capability)
        except ConnectorError as exc:
            return Check(capability, False, str(exc))
        return Check(capability, True, f"{url} answered")
