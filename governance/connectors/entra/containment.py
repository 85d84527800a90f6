"""The entra connector's containment calls (issue 13), mixed into EntraConnector: a user's
delegated grants to one client, a user's sign-in sessions, a client's own grants, and the
client's service principal (or Entra Agent ID) enabled or not. Graph has no RFC 7009: what
is revoked is a grant, a session or the principal itself (idp.md §2.2)."""

from __future__ import annotations

from collections.abc import Callable

from governance.connectors import transport
from governance.connectors.base import (
    CUT_OFF_IDENTITY,
    DEACTIVATE,
    REVOKE_CLIENT_GRANTS,
    REVOKE_USER_CLIENT,
    ConnectorError,
    IdpGrant,
    NotSupported,
    RevokeResult,
    confirm_absent,
    nothing_to_revoke,
)
from governance.connectors.bearer import BearerSession
from governance.connectors.entra import answers

_PRINCIPAL_FIELDS = "id,appId,displayName,accountEnabled"


class Containment:
    """Containment through Microsoft Graph (see the package docstring)."""

    session: BearerSession
    url: Callable[..., str]
    grant_url: Callable[..., str]
    grants_where_url: Callable[..., str]
    principal_by_app_id_url: Callable[..., str]
    agent_identity_url: Callable[[str], str]
    role_assignments_url: Callable[[str], str]
    assigned_to_url: Callable[..., str]
    user_url: Callable[[str], str]
    sign_in_sessions_url: Callable[[str], str]
    unsupported: Callable[..., NotSupported]
    _page: Callable[..., dict]
    _pages: Callable[..., object]
    _revoked: Callable[..., RevokeResult]
    _delete_assignment: Callable[..., RevokeResult]

    # --- one user, one client ---------------------------------------------------------------

    def grants_for(self, subject: str, client_id: str) -> list[IdpGrant]:
        """The user's delegated grants to the client (`$filter` by the client's service
        principal and the user); none when the tenant has no such client."""
        principal = self._principal(client_id, REVOKE_USER_CLIENT, missing_ok=True)
        if principal is None:
            return []
        return self._delegated(REVOKE_USER_CLIENT, principal, principalId=subject)

    def revoke_user_client(self, subject: str, client_id: str) -> list[RevokeResult]:
        """Delete each of the user's delegated grants to the client. Entra cannot revoke one
        client's refresh tokens alone: access tokens already issued stay valid until they
        expire, and cut_off_identity ends every session of the user."""
        grants = self.grants_for(subject, client_id)
        if not grants:
            return nothing_to_revoke(f"{subject}/{client_id}", self.grant_url())
        results = [self._delete_grant(grant, REVOKE_USER_CLIENT) for grant in grants]
        return confirm_absent(
            results,
            lambda: {g.idp_id for g in self.grants_for(subject, client_id)},
            call=REVOKE_USER_CLIENT,
        )

    # --- one user, every client -------------------------------------------------------------

    def cut_off_identity(self, subject: str) -> list[RevokeResult]:
        """`revokeSignInSessions`: every refresh token and browser session of the user, all
        apps (Graph answers 200 with `{"value": true}`)."""
        result = self.revoke_sign_in_sessions(subject, call=CUT_OFF_IDENTITY)

        def still_listed() -> set[str]:  # the user exists after all: the 404 was not "gone"
            response = self.session.call("GET", self.user_url(subject), call=CUT_OFF_IDENTITY)
            return {subject} if response.status == 200 else set()

        return confirm_absent([result], still_listed, call=CUT_OFF_IDENTITY)

    # --- one client -------------------------------------------------------------------------

    def revoke_client_grants(self, client_id: str) -> list[RevokeResult]:
        """Every delegated grant of the client (every user's, and a tenant-wide consent) and
        every app role assigned to its service principal (its client-credentials access)."""
        call = REVOKE_CLIENT_GRANTS
        principal = self._principal(client_id, call)
        grants = self._delegated(call, principal)
        assignments = self._assignments(principal, call)
        if not grants and not assignments:
            return nothing_to_revoke(client_id, self.role_assignments_url(principal["id"]))
        results = [self._delete_grant(grant, call) for grant in grants]
        results += [self._delete_assignment(a, call=call) for a in assignments]

        def still_listed() -> set[str]:
            left = {g.idp_id for g in self._delegated(call, principal)}
            return left | {a.idp_id for a in self._assignments(principal, call)}

        return confirm_absent(results, still_listed, call=call)

    def reactivate_client_grants(self, client_id: str) -> list[RevokeResult]:
        raise self.unsupported(
            REVOKE_CLIENT_GRANTS,
            "a deleted Entra grant or app role assignment cannot be restored: consent or "
            "assign it again",
        )

    def deactivate(self, client_id: str) -> None:
        self._set_enabled(client_id, False)

    def reactivate(self, client_id: str) -> None:
        self._set_enabled(client_id, True)

    def client_active(self, client_id: str) -> bool:
        return self._principal(client_id, DEACTIVATE).get("accountEnabled") is not False

    # --- helpers ----------------------------------------------------------------------------

    def _set_enabled(self, client_id: str, enabled: bool) -> None:
        """PATCH `accountEnabled` on the client's service principal, or on its agent identity
        (Entra Agent ID has its own update path and permission). Doing it twice succeeds."""
        principal = self._principal(client_id, DEACTIVATE)
        if principal.get("@odata.type") == answers.AGENT_TYPE:
            url = self.agent_identity_url(str(principal["id"]))
        else:
            url = self.principal_by_app_id_url(client_id)
        body = {"accountEnabled": enabled}
        response = self.session.call("PATCH", url, call=DEACTIVATE, json=body)
        if not 200 <= response.status < 300:
            raise answers.failure(response, DEACTIVATE)

    def _principal(self, client_id: str, call: str, *, missing_ok=False) -> dict | None:
        """The client's service principal, by appId (the OAuth client_id)."""
        if not client_id:
            raise ConnectorError("no client id", call=call, error_code="no_client")
        url = self.principal_by_app_id_url(client_id, select=_PRINCIPAL_FIELDS)
        response = self.session.call("GET", url, call=call)
        if response.status == 404 and missing_ok:
            return None
        body = response.json(call=call) if response.status == 200 else None
        if not isinstance(body, dict) or not body.get("id"):
            raise answers.failure(response, call)
        return body

    def _delegated(self, call: str, principal: dict, **where: str) -> list[IdpGrant]:
        url = self.grants_where_url(clientId=str(principal["id"]), **where)
        principals = {str(principal["id"]): principal}
        return [answers.consent(item, principals) for item in self._pages(url, call=call)]

    def _assignments(self, principal: dict, call: str) -> list[IdpGrant]:
        """App roles assigned to the principal, as grants `_delete_assignment` can delete (at
        their resource: `raw` keeps `resourceId`)."""
        url = self.role_assignments_url(str(principal["id"]))
        return [
            IdpGrant(
                idp_id=str(item.get("id", "")),
                subject=str(principal["id"]),
                client_id=str(principal.get("appId") or ""),
                grant_type="application_permission",
                raw=item,
            )
            for item in self._pages(url, call=call)
        ]

    def _delete_grant(self, grant: IdpGrant, call: str) -> RevokeResult:
        url = self.grant_url(grant.idp_id)
        response: transport.Response = self.session.call("DELETE", url, call=call)
        return self._revoked(response, grant.idp_id, url, call=call)
