"""The keycloak connector: the admin token, first/max pages, listing, revoking, deactivating
and verifying (see the package docstring for what each capability calls and needs)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from urllib.parse import quote, urlencode

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
    IdpClient,
    IdpGrant,
    IdpIdentity,
    RevokeResult,
)
from governance.connectors.bearer import BearerSession, CursorGuard, failure
from governance.connectors.keycloak.containment import Containment

PAGE_SIZE = 100  # Keycloak's own default `max`
# The realm-management client roles each capability needs, named in errors and verify().
ROLES = {
    LIST_IDENTITIES: ("view-users",),
    LIST_CLIENTS: ("view-clients",),
    LIST_GRANTS: ("view-users", "view-clients"),
    REVOKE: ("manage-users",),
    DEACTIVATE: ("manage-clients",),
    REVOKE_USER_CLIENT: ("manage-users",),
    CUT_OFF_IDENTITY: ("manage-users",),
    REVOKE_CLIENT_GRANTS: ("view-clients", "manage-users"),
}
_REALM_MANAGEMENT = "realm-management"
# manage-* implies view-* in Keycloak's admin permissions.
_IMPLIED = {"manage-users": {"view-users"}, "manage-clients": {"view-clients"}}


class KeycloakConnector(Containment, Connector):
    """A connection to one Keycloak realm through the Admin REST API."""

    kind = "keycloak"
    capabilities = frozenset(
        {VERIFY, LIST_IDENTITIES, LIST_CLIENTS, LIST_GRANTS, REVOKE, DEACTIVATE}
        | {REVOKE_USER_CLIENT, CUT_OFF_IDENTITY, REVOKE_CLIENT_GRANTS}
    )

    def __init__(self, config, secret, *, mock: httpx.MockTransport | None = None):
        super().__init__(config, secret)
        for key in ("base_url", "realm", "client_id"):
            if not self.config.get(key):
                raise ConnectorError(f"the config needs {key!r}", call="configure")
        base = str(self.config["base_url"]).rstrip("/")
        realm = quote(str(self.config["realm"]), safe="")
        self.admin_url = f"{base}/admin/realms/{realm}"
        try:
            total = float(self.config.get("timeout_seconds", 20))
            self.page_size = max(1, int(self.config.get("page_size", PAGE_SIZE)))
        except (TypeError, ValueError):
            raise ConnectorError(
                "timeout_seconds and page_size must be numbers", call="configure"
            ) from None
        self.session = BearerSession(
            token_url=f"{base}/realms/{realm}/protocol/openid-connect/token",
            form={"client_id": str(self.config["client_id"]), "client_secret": secret},
            timeouts=transport.Timeouts(connect=min(5.0, total), read=total, total=total),
            mock=mock,
        )

    # --- URLs (checked against python-keycloak's urls_patterns in the tests) ----------------

    def url(self, path: str, **query: str | int) -> str:
        params = urlencode(query)
        return f"{self.admin_url}{path}{'?' + params if params else ''}"

    def consent_url(self, user_id: str, client_id: str = "") -> str:
        tail = f"/{_seg(client_id)}" if client_id else ""
        return self.url(f"/users/{_seg(user_id)}/consents{tail}")

    def offline_sessions_url(self, client_uuid: str, first: int, size: int) -> str:
        return self.url(f"/clients/{_seg(client_uuid)}/offline-sessions", first=first, max=size)

    def session_url(self, session_id: str) -> str:
        return self.url(f"/sessions/{_seg(session_id)}", isOffline="true")

    # --- the interface ----------------------------------------------------------------------

    def verify(self) -> list[Check]:
        try:
            claims = self.session.claims(call=VERIFY)
        except ConnectorError as exc:
            return [Check("token", False, str(exc))] + [
                Check(cap, False, f"not checked: {exc}") for cap in self.reported_capabilities()
            ]
        access = claims.get("resource_access")
        held = (access or {}).get(_REALM_MANAGEMENT, {}) if isinstance(access, dict) else {}
        roles = set(held.get("roles") or ()) if isinstance(held, dict) else set()
        roles |= {implied for role in list(roles) for implied in _IMPLIED.get(role, ())}
        checks = [Check("token", True, f"token from {self.session.token_url}")]
        probes = {
            LIST_IDENTITIES: self.url("/users", first=0, max=1),
            LIST_CLIENTS: self.url("/clients", first=0, max=1),
        }
        for capability in self.reported_capabilities():
            if capability not in self.capabilities:
                checks.append(Check(capability, False, str(self.unsupported(capability))))
            elif capability in probes:
                checks.append(self._probe(capability, probes[capability]))
            else:
                checks.append(_role_check(capability, roles, bool(claims)))
        return checks

    def list_identities(self) -> Iterator[IdpIdentity]:
        for user in self._pages("/users", call=LIST_IDENTITIES):
            name = " ".join(filter(None, (user.get("firstName"), user.get("lastName"))))
            service = bool(user.get("serviceAccountClientId")) or str(
                user.get("username", "")
            ).startswith("service-account-")
            yield IdpIdentity(
                idp_id=str(user.get("id", "")),
                subject=str(user.get("id", "")),
                display_name=name or str(user.get("username") or ""),
                email=str(user.get("email") or ""),
                active=user.get("enabled") is not False,
                kind="service" if service else "human",
                raw=user,
            )

    def list_clients(self) -> Iterator[IdpClient]:
        for client in self._pages("/clients", call=LIST_CLIENTS):
            yield IdpClient(
                idp_id=str(client.get("id", "")),
                client_id=str(client.get("clientId", "")),
                name=str(client.get("name") or ""),
                active=client.get("enabled") is not False,
                raw=client,
            )

    def list_grants(self) -> Iterator[IdpGrant]:
        for user in self._pages("/users", call=LIST_GRANTS, briefRepresentation="true"):
            user_id = str(user.get("id", ""))
            for consent in self._list(self.consent_url(user_id), call=LIST_GRANTS):
                yield IdpGrant(
                    idp_id="",
                    subject=user_id,
                    client_id=str(consent.get("clientId", "")),
                    scopes=tuple(str(s) for s in consent.get("grantedClientScopes") or ()),
                    created=_when(consent.get("createdDate")),
                    grant_type="consent",
                    raw=consent,
                )
        for client in self._pages("/clients", call=LIST_GRANTS):
            uuid = str(client.get("id", ""))
            for session in self._pages_at(
                lambda first, size, uuid=uuid: self.offline_sessions_url(uuid, first, size),
                call=LIST_GRANTS,
            ):
                yield IdpGrant(
                    idp_id=str(session.get("id", "")),
                    subject=str(session.get("userId", "")),
                    client_id=str(client.get("clientId", "")),
                    created=_when(session.get("start")),
                    grant_type="refresh_token",
                    raw=session,
                )

    def revoke(self, grant_or_token: IdpGrant | str) -> RevokeResult:
        if not isinstance(grant_or_token, IdpGrant):
            raise self.unsupported(
                REVOKE,
                "the keycloak connector revokes listed consents and offline sessions, "
                "not token values",
            )
        grant = grant_or_token
        if grant.grant_type == "refresh_token" and grant.idp_id:
            url, target = self.session_url(grant.idp_id), grant.idp_id
        else:
            url = self.consent_url(grant.subject, grant.client_id)
            target = f"{grant.subject}/{grant.client_id}"
        response = self.session.call("DELETE", url, call=REVOKE)
        if response.status in (200, 204):
            return RevokeResult(RevokeResult.REVOKED, target, url, response.status)
        if response.status == 404:  # "Consent nor offline token not found": already revoked
            return RevokeResult(RevokeResult.ALREADY_ABSENT, target, url, response.status)
        raise self._failure(response, REVOKE)

    # --- calls ------------------------------------------------------------------------------

    def _pages(self, path: str, *, call: str, **query: str) -> Iterator[dict]:
        return self._pages_at(
            lambda first, size: self.url(path, first=first, max=size, **query), call=call
        )

    def _pages_at(self, url_for, *, call: str) -> Iterator[dict]:
        guard, first = CursorGuard(call), 0
        while True:
            url = url_for(first, self.page_size)
            page = self._list(url, call=call)
            if page:  # a server that ignores `first` sends the same page again: stop, loudly
                guard.check(" ".join(str(item.get("id", "")) for item in page), endpoint=url)
            yield from page
            if len(page) < self.page_size:
                return
            first += self.page_size

    def _list(self, url: str, *, call: str) -> list[dict]:
        response = self.session.call("GET", url, call=call)
        if response.status != 200:
            raise self._failure(response, call)
        body = response.json(call=call)
        if not isinstance(body, list):
            raise ConnectorError(
                "expected a JSON array",
                call=call,
                endpoint=url,
                status=response.status,
                error_code="invalid_response",
            )
        return [item for item in body if isinstance(item, dict)]

    def _failure(self, response: transport.Response, call: str) -> ConnectorError:
        roles = " and ".join(ROLES.get(call, ()))
        hints = {403: f"the service account lacks the {_REALM_MANAGEMENT} role(s) {roles}"}
        return failure(response, call, hints)

    def _probe(self, capability: str, url: str) -> Check:
        try:
            self._list(url, call=capability)
        except ConnectorError as exc:
            return Check(capability, False, str(exc))
        return Check(capability, True, f"{url} answered")


def _role_check(capability: str, roles: set[str], readable: bool) -> Check:
    if not readable:
        return Check(capability, True, "the token is not a readable JWT: checked at first use")
    missing = [role for role in ROLES[capability] if role not in roles]
    if missing:
        return Check(capability, False, f"the service account lacks {_REALM_MANAGEMENT}: {missing}")
    return Check(capability, True, f"{_REALM_MANAGEMENT} roles {list(ROLES[capability])} held")


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _when(value) -> datetime.datetime | None:
    """Keycloak's times are epoch milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.datetime.fromtimestamp(value / 1000, tz=datetime.UTC)
