"""The oauth kind's optional admin routes: `grants_url` (list and delete grants, and the
containment calls built on them) and `clients_url` (read, disable and enable a client). Neither
is a standard; the package docstring gives the convention, which the test peer implements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import quote, urlencode, urljoin

from governance.connectors import transport
from governance.connectors.base import (
    CUT_OFF_IDENTITY,
    DEACTIVATE,
    LIST_GRANTS,
    REVOKE,
    REVOKE_CLIENT_GRANTS,
    REVOKE_USER_CLIENT,
    ConnectorError,
    IdpGrant,
    NotSupported,
    RevokeResult,
    confirm_absent,
    nothing_to_revoke,
)
from governance.connectors.oauth import answers


class AdminRoutes:
    """Grants and clients through the configured admin routes (mixed into OAuthConnector)."""

    grants_url: str
    clients_url: str
    _call: Callable[..., transport.Response]
    unsupported: Callable[..., NotSupported]

    # --- grants -----------------------------------------------------------------------------

    def list_grants(self) -> Iterator[IdpGrant]:
        if not self.grants_url:
            raise self.unsupported(LIST_GRANTS)
        return self._grant_pages(self.grants_url, call=LIST_GRANTS)

    def grants_for(self, subject: str, client_id: str) -> list[IdpGrant]:
        return self._grants_where(REVOKE_USER_CLIENT, subject=subject, client_id=client_id)

    def revoke_user_client(self, subject: str, client_id: str) -> list[RevokeResult]:
        return self._revoke_where(REVOKE_USER_CLIENT, subject=subject, client_id=client_id)

    def cut_off_identity(self, subject: str) -> list[RevokeResult]:
        return self._revoke_where(CUT_OFF_IDENTITY, subject=subject)

    def revoke_client_grants(self, client_id: str) -> list[RevokeResult]:
        return self._revoke_where(REVOKE_CLIENT_GRANTS, client_id=client_id)

    def reactivate_client_grants(self, client_id: str) -> list[RevokeResult]:
        raise self.unsupported(
            REVOKE_CLIENT_GRANTS,
            "a deleted grant cannot be restored: the client's users consent again",
        )

    def _grants_where(self, call: str, **where: str) -> list[IdpGrant]:
        """The grants matching `where` (subject, client_id): the route's filter params, and
        the same filter on what comes back (a route may ignore the params)."""
        if not self.grants_url:
            raise self.unsupported(call)
        url = f"{self.grants_url}?{urlencode(where)}"
        return [
            grant
            for grant in self._grant_pages(url, call=call)
            if all(getattr(grant, key) == value for key, value in where.items())
        ]

    def _revoke_where(self, call: str, **where: str) -> list[RevokeResult]:
        grants = self._grants_where(call, **where)
        if not grants:
            target = "/".join(where.values())
            return nothing_to_revoke(target, f"{self.grants_url}?{urlencode(where)}")
        results = [self._delete_grant(grant, call=call) for grant in grants]
        return confirm_absent(
            results, lambda: {g.idp_id for g in self._grants_where(call, **where)}, call=call
        )

    def _grant_pages(self, url: str, *, call: str) -> Iterator[IdpGrant]:
        """Page by page: each answer's optional `next` (a URL, absolute or relative to the
        grants_url) names the next page; a `next` already followed is an error, not a loop."""
        followed = set()
        while url:
            response = self._call("GET", url, call=call)
            if response.status != 200:
                raise answers.failure(response, call)
            body = response.json(call=call)
            if not isinstance(body, dict) or not isinstance(body.get("grants"), list):
                raise ConnectorError(
                    'expected {"grants": [...]}',
                    call=call,
                    endpoint=url,
                    status=response.status,
                    error_code="invalid_response",
                )
            yield from (answers.grant(item) for item in body["grants"] if isinstance(item, dict))
            followed.add(url)
            url = urljoin(self.grants_url, str(body["next"])) if body.get("next") else ""
            if url in followed:
                raise ConnectorError(
                    "the page repeats a cursor already followed (stopped, not looping)",
                    call=call,
                    endpoint=url,
                    status=response.status,
                    error_code="repeated_cursor",
                )

    def _delete_grant(self, grant: IdpGrant, *, call: str = REVOKE) -> RevokeResult:
        if not self.grants_url:
            raise self.unsupported(REVOKE, "revoking a listed grant needs grants_url in the config")
        if not grant.idp_id:  # DELETE <grants_url>/ is no grant's path
            raise ConnectorError("the grant has no id", call=call, error_code="incomplete_grant")
        url = f"{self.grants_url}/{quote(grant.idp_id, safe='')}"
        response = self._call("DELETE", url, call=call)
        if response.status in (200, 202, 204):
            return RevokeResult(RevokeResult.REVOKED, grant.idp_id, url, response.status)
        if response.status in (404, 410):  # gone already: success, recorded distinctly
            return RevokeResult(RevokeResult.ALREADY_ABSENT, grant.idp_id, url, response.status)
        raise answers.failure(response, call)

    # --- clients ----------------------------------------------------------------------------

    def deactivate(self, client_id: str) -> None:
        self._set_active(client_id, False)

    def reactivate(self, client_id: str) -> None:
        self._set_active(client_id, True)

    def client_active(self, client_id: str) -> bool:
        return self._client(client_id, "GET")

    def _set_active(self, client_id: str, active: bool) -> None:
        if self._client(client_id, "PATCH", {"active": active}) is not active:
            raise ConnectorError(
                f"the client is still {'inactive' if active else 'active'} after the change",
                call=DEACTIVATE,
                endpoint=self._client_url(client_id),
                error_code="not_changed",
            )

    def _client(self, client_id: str, method: str, body: dict | None = None) -> bool:
        """GET or PATCH one client at clients_url; its `active` as the AS answers it (a PATCH
        answered 204 without a body is read back with a GET)."""
        url = self._client_url(client_id)
        response = self._call(method, url, call=DEACTIVATE, json=body)
        if method == "PATCH" and response.status == 204:
            return self._client(client_id, "GET")
        if response.status != 200:
            raise answers.failure(response, DEACTIVATE)
        answer = response.json(call=DEACTIVATE)
        if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
            raise ConnectorError.unexpected_shape("active", call=DEACTIVATE, endpoint=url)
        return answer["active"]

    def _client_url(self, client_id: str) -> str:
        if not self.clients_url:
            raise self.unsupported(DEACTIVATE)
        if not client_id:
            raise ConnectorError("no client id", call=DEACTIVATE, error_code="no_client")
        return f"{self.clients_url}/{quote(client_id, safe='')}"
