"""The okta connector's containment calls (issue 13), mixed into OktaConnector: what one user
granted one client, a user's sessions and tokens, an app's own grants and Cross App Access
connections, and the app's lifecycle. Paths and scopes are OKTA-SPEC's (idp.md §1.2)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlencode

from governance.connectors import transport
from governance.connectors.base import (
    CUT_OFF_IDENTITY,
    DEACTIVATE,
    REVOKE_CLIENT_GRANTS,
    REVOKE_USER_CLIENT,
    ConnectorError,
    IdpGrant,
    RevokeResult,
    confirm_absent,
)
from governance.connectors.okta import answers

USERS_READ, USERS_MANAGE = "okta.users.read", "okta.users.manage"
APPS_READ, APPS_MANAGE = "okta.apps.read", "okta.apps.manage"
APP_GRANTS_READ, APP_GRANTS_MANAGE = "okta.appGrants.read", "okta.appGrants.manage"


class Containment:
    """Containment through Okta's Management API (see the package docstring)."""

    base_url: str
    _send: Callable[..., transport.Response]
    _pages: Callable[..., Iterator[dict]]

    # --- one user, one client ---------------------------------------------------------------

    def grants_for(self, subject: str, client_id: str) -> list[IdpGrant]:
        """The user's consents to the client and its refresh tokens; none when Okta knows no
        such user or client (404)."""
        base = self._user_client(subject, client_id)
        try:
            consents = self._records(f"{base}/grants", REVOKE_USER_CLIENT, USERS_READ)
            tokens = self._records(f"{base}/tokens", REVOKE_USER_CLIENT, USERS_READ)
        except ConnectorError as exc:
            if exc.status == 404:
                return []
            raise
        return [answers.consent(r, "consent") for r in consents] + [
            answers.refresh_token(r) for r in tokens
        ]

    def revoke_user_client(self, subject: str, client_id: str) -> list[RevokeResult]:
        """Okta's two bulk deletes for the pair: every consent grant, every refresh token
        (and the access tokens minted from them). Each answers 204 even when empty."""
        base = self._user_client(subject, client_id)
        results = [
            self._delete(f"{base}/{part}", f"{subject}/{client_id}/{part}", REVOKE_USER_CLIENT)
            for part in ("grants", "tokens")
        ]

        def still_listed() -> set[str]:
            left = {g.grant_type for g in self.grants_for(subject, client_id)}
            return {
                f"{subject}/{client_id}/{part}"
                for part, kind in (("grants", "consent"), ("tokens", "refresh_token"))
                if kind in left
            }

        return confirm_absent(results, still_listed, call=REVOKE_USER_CLIENT)

    # --- one user, every client -------------------------------------------------------------

    def cut_off_identity(self, subject: str) -> list[RevokeResult]:
        """End every Okta session of the user and revoke its OAuth tokens (`oauthTokens=true`;
        `forgetDevices=false` keeps the user's remembered factors, which are no access)."""
        user = self._user(subject)
        query = urlencode({"oauthTokens": "true", "forgetDevices": "false"})
        result = self._delete(
            f"{self.base_url}/api/v1/users/{user}/sessions?{query}",
            subject,
            CUT_OFF_IDENTITY,
            scope=USERS_MANAGE,
        )

        def still_listed() -> set[str]:  # the user exists after all: a 404 was not "gone"
            url = f"{self.base_url}/api/v1/users/{user}/clients"
            response = self._send("GET", url, call=CUT_OFF_IDENTITY, scopes=(USERS_READ,))
            return {subject} if response.status == 200 else set()

        return confirm_absent([result], still_listed, call=CUT_OFF_IDENTITY)

    # --- one app ----------------------------------------------------------------------------

    def revoke_client_grants(self, client_id: str) -> list[RevokeResult]:
        """Every user's refresh tokens for the app, its grants of Okta-API scopes (what its
        client credentials may do at Okta), and its Cross App Access connections as the
        requesting app set INACTIVE (reversible: reactivate_client_grants)."""
        app = f"{self.base_url}/api/v1/apps/{self._app(client_id)}"
        call = REVOKE_CLIENT_GRANTS
        results = [self._delete(f"{app}/tokens", f"{client_id}/tokens", call, scope=APPS_MANAGE)]
        for grant in self._app_grants(app):
            grant_id = str(grant.get("id", ""))
            if grant_id:
                url = f"{app}/grants/{answers.seg(grant_id)}"
                results.append(self._delete(url, grant_id, call, scope=APP_GRANTS_MANAGE))
        results += self._set_connections(client_id, "INACTIVE")

        def still_listed() -> set[str]:
            listed = {str(g.get("id", "")) for g in self._app_grants(app)}
            tokens = self._send("GET", f"{app}/tokens?limit=1", call=call, scopes=(APPS_READ,))
            if tokens.status == 200 and tokens.json(call=call):
                listed.add(f"{client_id}/tokens")
            return listed

        return confirm_absent(results, still_listed, call=call)

    def reactivate_client_grants(self, client_id: str) -> list[RevokeResult]:
        """The app's Cross App Access connections set ACTIVE again (deleted tokens and grants
        stay deleted: the app asks for new ones)."""
        self._app(client_id)
        return self._set_connections(client_id, "ACTIVE")

    def reactivate(self, client_id: str) -> None:
        app = self._app(client_id)
        url = f"{self.base_url}/api/v1/apps/{app}/lifecycle/activate"
        response = self._send("POST", url, call=DEACTIVATE, scopes=(APPS_MANAGE,))
        if response.status not in (200, 204):
            raise answers.failure(response, DEACTIVATE, (APPS_MANAGE,))

    def client_active(self, client_id: str) -> bool:
        """The app's status as `GET /api/v1/apps?filter=id eq "…"` lists it (inactive apps
        included); ConnectorError when Okta lists no such app."""
        self._app(client_id)
        query = {"filter": f'id eq "{client_id}"', "includeNonDeleted": "true", "limit": 1}
        url = f"{self.base_url}/api/v1/apps?{urlencode(query)}"
        response = self._send("GET", url, call=DEACTIVATE, scopes=(APPS_READ,), bucket="apps")
        if response.status != 200:
            raise answers.failure(response, DEACTIVATE, (APPS_READ,))
        apps = response.json(call=DEACTIVATE)
        found = (
            [a for a in apps if isinstance(a, dict) and a.get("id") == client_id]
            if (isinstance(apps, list))
            else []
        )
        if not found:
            raise ConnectorError(
                f"Okta lists no app with id {client_id!r}",
                call=DEACTIVATE,
                endpoint=url,
                error_code="no_app",
            )
        return found[0].get("status") == "ACTIVE"

    # --- helpers ----------------------------------------------------------------------------

    def _set_connections(self, client_id: str, status: str) -> list[RevokeResult]:
        """PATCH the app's connections as the requesting app to `status`; one already there is
        `already_absent` (nothing to change), so a second call changes nothing."""
        app = f"{self.base_url}/api/v1/apps/{self._app(client_id)}"
        results = []
        for connection in self._connections_of(app):
            if connection.get("requestingAppInstanceId") != client_id:
                continue  # this app is the resource: other agents' access, not its own
            connection_id = str(connection.get("id", ""))
            url = f"{app}/cwo/connections/{answers.seg(connection_id)}"
            if connection.get("status") == status:
                results.append(RevokeResult(RevokeResult.ALREADY_ABSENT, connection_id, url))
                continue
            response = self._send(
                "PATCH",
                url,
                call=REVOKE_CLIENT_GRANTS,
                scopes=(APPS_MANAGE,),
                json={"status": status},
            )
            if response.status != 200:
                raise answers.failure(response, REVOKE_CLIENT_GRANTS, (APPS_MANAGE,))
            outcome = RevokeResult.REVOKED if status == "INACTIVE" else RevokeResult.RESTORED
            results.append(RevokeResult(outcome, connection_id, url, response.status))
        return results

    def _connections_of(self, app: str) -> list[dict]:
        try:
            return list(self._pages_of(f"{app}/cwo/connections", REVOKE_CLIENT_GRANTS, APPS_READ))
        except ConnectorError as exc:
            if exc.status == 404:  # Cross App Access (EA) is off for this org or app
                return []
            raise

    def _app_grants(self, app: str) -> list[dict]:
        """The app's grants of Okta-API scopes; none when Okta knows no such app (404)."""
        try:
            return list(
                self._pages_of(f"{app}/grants", REVOKE_CLIENT_GRANTS, APP_GRANTS_READ, paged=False)
            )
        except ConnectorError as exc:
            if exc.status == 404:
                return []
            raise

    def _records(self, url: str, call: str, scope: str) -> list[dict]:
        return list(self._pages_of(url, call, scope, expand=True))

    def _pages_of(self, url: str, call: str, scope: str, **options) -> Iterator[dict]:
        return self._pages(
            url.removeprefix(self.base_url), call=call, bucket=call, scopes=(scope,), **options
        )

    def _delete(
        self, url: str, target: str, call: str, *, scope: str = USERS_MANAGE
    ) -> RevokeResult:
        """One DELETE: 204 revoked; 404 (`E0000007`) already absent, for the caller to confirm
        with a read; anything else a ConnectorError naming the scope."""
        response = self._send("DELETE", url, call=call, scopes=(scope,), bucket=call)
        if response.status in (200, 202, 204):
            return RevokeResult(RevokeResult.REVOKED, target, url, response.status)
        if response.status in (404, 410):
            return RevokeResult(RevokeResult.ALREADY_ABSENT, target, url, response.status)
        raise answers.failure(response, call, (scope,))

    def _user_client(self, subject: str, client_id: str) -> str:
        """`/api/v1/users/{uid}/clients/{cid}`; both ids required (an empty one would make the
        path another, broader call)."""
        if not subject or not client_id:
            raise ConnectorError(
                "a user id and a client id are both needed",
                call=REVOKE_USER_CLIENT,
                error_code="incomplete_grant",
            )
        user, client = answers.seg(subject), answers.seg(client_id)
        return f"{self.base_url}/api/v1/users/{user}/clients/{client}"

    def _user(self, subject: str) -> str:
        if not subject:
            raise ConnectorError("no user id", call=CUT_OFF_IDENTITY, error_code="no_user")
        return answers.seg(subject)

    def _app(self, client_id: str) -> str:
        if not client_id:
            raise ConnectorError("no app id", call=DEACTIVATE, error_code="no_app")
        return answers.seg(client_id)
