"""The keycloak connector's containment calls (issue 13), mixed into KeycloakConnector: a
user's consent to one client, a user's logout, a client's offline sessions, and the client
enabled or not. Paths are Keycloak's admin resources (idp.md §3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import quote

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


class Containment:
    """Containment through Keycloak's Admin REST API (see the package docstring)."""

    session: BearerSession
    url: Callable[..., str]
    consent_url: Callable[..., str]
    session_url: Callable[[str], str]
    offline_sessions_url: Callable[..., str]
    unsupported: Callable[..., NotSupported]
    _list: Callable[..., list[dict]]
    _pages_at: Callable[..., Iterator[dict]]
    _failure: Callable[..., ConnectorError]

    def user_url(self, user_id: str, tail: str = "") -> str:
        return self.url(f"/users/{_seg(user_id)}{tail}")

    # --- one user, one client ---------------------------------------------------------------

    def grants_for(self, subject: str, client_id: str) -> list[IdpGrant]:
        """The user's consent entry for the client (consented scopes, and/or offline tokens);
        none when Keycloak has no such user."""
        return [g for g in self._consents(subject, REVOKE_USER_CLIENT) if g.client_id == client_id]

    def revoke_user_client(self, subject: str, client_id: str) -> list[RevokeResult]:
        """Delete the consent: Keycloak drops the user's offline tokens for the client with it.
        The second time Keycloak answers 404 "Consent nor offline token not found"."""
        result = self._delete_consent(subject, client_id, REVOKE_USER_CLIENT)
        return confirm_absent(
            [result],
            lambda: {f"{g.subject}/{g.client_id}" for g in self.grants_for(subject, client_id)},
            call=REVOKE_USER_CLIENT,
        )

    # --- one user, every client -------------------------------------------------------------

    def cut_off_identity(self, subject: str) -> list[RevokeResult]:
        """Log the user out (Keycloak sets its not-before to now, so tokens issued earlier are
        refused, and ends its online sessions), then delete each consent, which takes the
        offline tokens the logout leaves."""
        call = CUT_OFF_IDENTITY
        url = self.user_url(subject, "/logout")
        response = self.session.call("POST", url, call=call)
        if response.status == 404:  # no such user: confirmed below
            logout = RevokeResult(RevokeResult.ALREADY_ABSENT, subject, url, 404)
        elif response.status in (200, 204):
            logout = RevokeResult(RevokeResult.REVOKED, subject, url, response.status)
        else:
            raise self._failure(response, call)
        consents = self._consents(subject, call)
        results = [logout] + [self._delete_consent(subject, g.client_id, call) for g in consents]

        def still_listed() -> set[str]:
            exists = self.session.call("GET", self.user_url(subject), call=call).status == 200
            left = {f"{g.subject}/{g.client_id}" for g in self._consents(subject, call)}
            return left | ({subject} if exists else set())

        return confirm_absent(results, still_listed, call=call)

    # --- one client -------------------------------------------------------------------------

    def revoke_client_grants(self, client_id: str) -> list[RevokeResult]:
        """Every offline session of the client (the offline tokens it keeps refreshing). Its
        client-credentials tokens stop with deactivate (a disabled client gets none)."""
        call = REVOKE_CLIENT_GRANTS
        uuid = str(self._client(client_id, call)["id"])
        sessions = self._offline_sessions(uuid, call)
        if not sessions:
            return nothing_to_revoke(client_id, self.offline_sessions_url(uuid, 0, 1))
        results = []
        for session_id in sessions:
            url = self.session_url(session_id)
            response = self.session.call("DELETE", url, call=call)
            results.append(_outcome(response, session_id, url) or self._raise(response, call))
        return confirm_absent(results, lambda: set(self._offline_sessions(uuid, call)), call=call)

    def reactivate_client_grants(self, client_id: str) -> list[RevokeResult]:
        raise self.unsupported(
            REVOKE_CLIENT_GRANTS,
            "a deleted Keycloak session cannot be restored: the client signs in again",
        )

    def deactivate(self, client_id: str) -> None:
        self._set_enabled(client_id, False)

    def reactivate(self, client_id: str) -> None:
        self._set_enabled(client_id, True)

    def client_active(self, client_id: str) -> bool:
        return self._client(client_id, DEACTIVATE).get("enabled") is not False

    # --- helpers ----------------------------------------------------------------------------

    def _set_enabled(self, client_id: str, enabled: bool) -> None:
        """GET the full client representation and PUT it back with `enabled` changed:
        Keycloak's PUT replaces the client, so a partial body would reset what it leaves out."""
        client = self._client(client_id, DEACTIVATE)
        url = self.url(f"/clients/{_seg(str(client['id']))}")
        response = self.session.call(
            "PUT", url, call=DEACTIVATE, json={**client, "enabled": enabled}
        )
        if response.status not in (200, 204):
            raise self._failure(response, DEACTIVATE)

    def _client(self, client_id: str, call: str) -> dict:
        """The client's full representation: its UUID by a clientId search, then GET by UUID."""
        if not client_id:
            raise ConnectorError("no client id", call=call, error_code="no_client")
        found = self._list(self.url("/clients", clientId=client_id), call=call)
        match = next((c for c in found if c.get("clientId") == client_id), None)
        if match is None or not match.get("id"):
            raise ConnectorError(
                f"no client with clientId {client_id!r} in this realm",
                call=call,
                endpoint=self.url("/clients"),
                status=404,
                error_code="client_not_found",
            )
        url = self.url(f"/clients/{_seg(str(match['id']))}")
        response = self.session.call("GET", url, call=call)
        body = response.json(call=call) if response.status == 200 else None
        if not isinstance(body, dict):
            raise self._failure(response, call)
        return body

    def _consents(self, subject: str, call: str) -> list[IdpGrant]:
        if not subject:
            raise ConnectorError("no user id", call=call, error_code="no_user")
        try:
            consents = self._list(self.consent_url(subject), call=call)
        except ConnectorError as exc:
            if exc.status == 404:  # no such user: nothing it granted
                return []
            raise
        return [
            IdpGrant(
                idp_id="",
                subject=subject,
                client_id=str(c.get("clientId", "")),
                scopes=tuple(str(s) for s in c.get("grantedClientScopes") or ()),
                grant_type="consent",
                raw=c,
            )
            for c in consents
        ]

    def _delete_consent(self, subject: str, client_id: str, call: str) -> RevokeResult:
        if not subject or not client_id:  # .../consents/ would be another call
            raise ConnectorError(
                "a user id and a client id are both needed",
                call=call,
                error_code="incomplete_grant",
            )
        url = self.consent_url(subject, client_id)
        response = self.session.call("DELETE", url, call=call)
        return _outcome(response, f"{subject}/{client_id}", url) or self._raise(response, call)

    def _offline_sessions(self, uuid: str, call: str) -> list[str]:
        pages = self._pages_at(
            lambda first, size: self.offline_sessions_url(uuid, first, size), call=call
        )
        return [str(s.get("id", "")) for s in pages if s.get("id")]

    def _raise(self, response: transport.Response, call: str) -> RevokeResult:
        raise self._failure(response, call)


def _outcome(response: transport.Response, target: str, url: str) -> RevokeResult | None:
    """204 revoked, 404 already absent (for the caller to confirm), None for anything else."""
    if response.status in (200, 204):
        return RevokeResult(RevokeResult.REVOKED, target, url, response.status)
    if response.status == 404:
        return RevokeResult(RevokeResult.ALREADY_ABSENT, target, url, response.status)
    return None


def _seg(value: str) -> str:
    return quote(str(value), safe="")
