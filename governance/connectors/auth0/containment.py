"""The auth0 connector's containment calls (issue 13), mixed into Auth0Connector: what one user
granted one client (consents and refresh tokens), a user's refresh tokens and sessions, and a
client's own grants. Auth0 clients have no enabled flag: there is no deactivation (idp.md §4).
Paths are auth0-python's Management API client's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import quote

from governance.connectors import transport
from governance.connectors.auth0 import answers
from governance.connectors.base import (
    CUT_OFF_IDENTITY,
    REVOKE_CLIENT_GRANTS,
    REVOKE_USER_CLIENT,
    ConnectorError,
    IdpGrant,
    NotSupported,
    RevokeResult,
    confirm_absent,
    nothing_to_revoke,
)

# What each DELETE needs, named in a 403.
_SCOPES = {
    "grants": "delete:grants",
    "refresh-tokens": "delete:refresh_tokens",
    "client-grants": "delete:client_grants",
    "sessions": "delete:sessions",
}


class Containment:
    """Containment through the Auth0 Management API (see the package docstring)."""

    api_url: str
    refresh_tokens: bool
    unsupported: Callable[..., NotSupported]
    _api: Callable[..., transport.Response]
    _pages: Callable[..., Iterator[dict]]
    _checkpoints: Callable[..., Iterator[dict]]

    # --- one user, one client ---------------------------------------------------------------

    def grants_for(self, subject: str, client_id: str) -> list[IdpGrant]:
        """The user's consents to the client (`GET /grants?user_id&client_id`) and its
        refresh tokens for the client (the user's `GET /users/{id}/refresh-tokens`, when the
        plan lists them: `list_refresh_tokens`)."""
        _needs(subject, client_id, call=REVOKE_USER_CLIENT)
        where = {"user_id": subject, "client_id": client_id}
        grants = [
            answers.consent(g)
            for g in self._pages("grants", REVOKE_USER_CLIENT, "read:grants", **where)
        ]
        return grants + [t for t in self._tokens_of(subject) if t.client_id == client_id]

    def revoke_user_client(self, subject: str, client_id: str) -> list[RevokeResult]:
        """DELETE each consent and each refresh token (eventually consistent at Auth0: a
        deleted token may be listed a moment longer)."""
        grants = self.grants_for(subject, client_id)
        if not grants:
            return nothing_to_revoke(f"{subject}/{client_id}", f"{self.api_url}/grants")
        results = [self._delete_grant(grant, REVOKE_USER_CLIENT) for grant in grants]
        return confirm_absent(
            results,
            lambda: {g.idp_id for g in self.grants_for(subject, client_id)},
            call=REVOKE_USER_CLIENT,
        )

    # --- one user, every client -------------------------------------------------------------

    def cut_off_identity(self, subject: str) -> list[RevokeResult]:
        """Every refresh token of the user (`DELETE /users/{id}/refresh-tokens`) and every
        session (`DELETE /users/{id}/sessions`); its consents stay (a new sign-in asks again
        only where the client requires consent)."""
        _needs(subject, call=CUT_OFF_IDENTITY)
        user = f"users/{quote(subject, safe='')}"
        results = [
            self._delete(f"{user}/{part}", f"{subject}/{part}", CUT_OFF_IDENTITY, _SCOPES[part])
            for part in ("refresh-tokens", "sessions")
        ]

        def still_listed() -> set[str]:  # the user exists after all: a 404 was not "gone"
            response = self._api("GET", user, CUT_OFF_IDENTITY)
            parts = ("refresh-tokens", "sessions")
            return {f"{subject}/{part}" for part in parts} if response.status == 200 else set()

        return confirm_absent(results, still_listed, call=CUT_OFF_IDENTITY)

    # --- one client -------------------------------------------------------------------------

    def revoke_client_grants(self, client_id: str) -> list[RevokeResult]:
        """The client's client grants (what its client credentials may call: deleting one
        stops new tokens for that API) and every user's consent to it."""
        _needs(client_id, call=REVOKE_CLIENT_GRANTS)
        grants = self._client_grants(client_id)
        if not grants:
            return nothing_to_revoke(client_id, f"{self.api_url}/client-grants")
        results = [self._delete_grant(grant, REVOKE_CLIENT_GRANTS) for grant in grants]
        return confirm_absent(
            results,
            lambda: {g.idp_id for g in self._client_grants(client_id)},
            call=REVOKE_CLIENT_GRANTS,
        )

    def reactivate_client_grants(self, client_id: str) -> list[RevokeResult]:
        raise self.unsupported(
            REVOKE_CLIENT_GRANTS,
            "a deleted Auth0 client grant or consent cannot be restored: create it again",
        )

    # --- helpers ----------------------------------------------------------------------------

    def _client_grants(self, client_id: str) -> list[IdpGrant]:
        call = REVOKE_CLIENT_GRANTS
        own = self._checkpoints(
            "client-grants", "read:client_grants", call=call, client_id=client_id
        )
        consents = self._pages("grants", call, "read:grants", client_id=client_id)
        return [answers.client_grant(g) for g in own if g.get("client_id") == client_id] + [
            answers.consent(g) for g in consents
        ]

    def _tokens_of(self, subject: str) -> list[IdpGrant]:
        if not self.refresh_tokens:
            return []
        path = f"users/{quote(subject, safe='')}/refresh-tokens"
        try:
            tokens = list(
                self._checkpoints(
                    path, answers.REFRESH_SCOPE_HINT, key="tokens", call=REVOKE_USER_CLIENT
                )
            )
        except ConnectorError as exc:
            if exc.status == 404:  # no such user: no tokens
                return []
            raise
        return [answers.refresh_token(t, subject) for t in tokens]

    def _delete_grant(self, grant: IdpGrant, call: str) -> RevokeResult:
        collection = {
            "consent": "grants",
            "refresh_token": "refresh-tokens",
            "application_permission": "client-grants",
        }[grant.grant_type]
        path = f"{collection}/{quote(grant.idp_id, safe='')}"
        return self._delete(path, grant.idp_id, call, _SCOPES[collection])

    def _delete(self, path: str, target: str, call: str, scope: str) -> RevokeResult:
        response = self._api("DELETE", path, call)
        if response.status in (200, 202, 204):
            return RevokeResult(RevokeResult.REVOKED, target, response.endpoint, response.status)
        if response.status == 404:  # for the caller to confirm with a read
            return RevokeResult(
                RevokeResult.ALREADY_ABSENT, target, response.endpoint, response.status
            )
        raise answers.failure(response, call, scope)


def _needs(*ids: str, call: str) -> None:
    """Every id given: an empty one would make the path another, broader call."""
    if not all(ids):
        raise ConnectorError("an id the call needs is empty", call=call, error_code="no_id")
