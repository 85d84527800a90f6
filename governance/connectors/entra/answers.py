"""Reading Graph's answers for the entra connector: records normalised onto the connector
dataclasses (idp.md §0), the permission each call needs, and Graph's errors turned into
ConnectorErrors that name it. Plain functions, no I/O."""

from __future__ import annotations

import datetime

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
    Check,
    ConnectorError,
    IdpClient,
    IdpGrant,
    IdpIdentity,
    StateExpired,
)
from governance.connectors.bearer import failure as bearer_failure

AGENT_TYPE = "#microsoft.graph.agentIdentity"

# The least application permission each call needs, named in errors and in verify().
PERMISSIONS = {
    LIST_IDENTITIES: "User.Read.All",
    LIST_CLIENTS: "Application.Read.All",
    LIST_GRANTS: "DelegatedPermissionGrant.Read.All (or Directory.Read.All) and "
    "Application.Read.All",
    REVOKE: "DelegatedPermissionGrant.ReadWrite.All and AppRoleAssignment.ReadWrite.All",
    DEACTIVATE: "Application.ReadWrite.All (or Application.ReadWrite.OwnedBy for owned apps; "
    "AgentIdentity.EnableDisable.All for agent identities) and Application.Read.All",
    "revoke_sign_in_sessions": "User.RevokeSessions.All",
    REVOKE_USER_CLIENT: "DelegatedPermissionGrant.ReadWrite.All and Application.Read.All",
    CUT_OFF_IDENTITY: "User.RevokeSessions.All",
    REVOKE_CLIENT_GRANTS: "DelegatedPermissionGrant.ReadWrite.All, AppRoleAssignment.ReadWrite.All "
    "and Application.Read.All",
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
    REVOKE_USER_CLIENT: ({"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"},),
    CUT_OFF_IDENTITY: (
        {"User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"},
    ),
    REVOKE_CLIENT_GRANTS: (
        {"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"},
        {"AppRoleAssignment.ReadWrite.All", "Directory.ReadWrite.All"},
    ),
}


# --- records --------------------------------------------------------------------------------


def user_identity(user: dict) -> IdpIdentity:
    """A Graph user, with its manager's id when `$expand=manager` brought one."""
    manager = user.get("manager")
    return IdpIdentity(
        idp_id=str(user.get("id", "")),
        subject=str(user.get("id", "")),
        display_name=str(user.get("displayName") or ""),
        email=str(user.get("mail") or user.get("userPrincipalName") or ""),
        active=user.get("accountEnabled") is not False,
        kind="human",
        manager=str(manager.get("id", "")) if isinstance(manager, dict) else "",
        raw=user,
    )


def principal_identity(sp: dict) -> IdpIdentity:
    """A service principal as an identity: `agent` for an Entra Agent ID, else `service`."""
    return IdpIdentity(
        idp_id=str(sp.get("id", "")),
        subject=str(sp.get("id", "")),
        display_name=str(sp.get("displayName") or ""),
        active=sp.get("accountEnabled") is not False,
        kind="agent" if sp.get("@odata.type") == AGENT_TYPE else "service",
        owner=first_owner(sp),
        raw=sp,
    )


def client(sp: dict) -> IdpClient:
    """A service principal as a client, keyed by its appId (the OAuth client_id)."""
    return IdpClient(
        idp_id=str(sp.get("id", "")),
        client_id=str(sp.get("appId", "")),
        name=str(sp.get("displayName") or ""),
        active=sp.get("accountEnabled") is not False,
        raw=sp,
    )


def consent(item: dict, principals: dict[str, dict]) -> IdpGrant:
    """A delegated `oauth2PermissionGrant` ("" subject for a tenant-wide consent)."""
    return IdpGrant(
        idp_id=str(item.get("id", "")),
        subject=str(item.get("principalId") or ""),
        client_id=app_id(principals, item.get("clientId")),
        scopes=tuple(str(item.get("scope") or "").split()),
        grant_type="consent",
        raw=item,
    )


def app_permission(item: dict, resource: dict, principals: dict[str, dict]) -> IdpGrant:
    """An app role assigned to a service principal on `resource`; the scope is the role's
    value."""
    roles = {r.get("id"): r.get("value") for r in resource.get("appRoles") or ()}
    role = roles.get(item.get("appRoleId")) or str(item.get("appRoleId", ""))
    return IdpGrant(
        idp_id=str(item.get("id", "")),
        subject=str(item.get("principalId", "")),
        client_id=app_id(principals, item.get("principalId")),
        scopes=(role,) if role else (),
        created=when(item.get("createdDateTime")),
        grant_type="application_permission",
        raw=item,
    )


def app_id(principals: dict[str, dict], principal_id) -> str:
    """The appId (OAuth client_id) of a service principal; its object id when unknown."""
    sp = principals.get(str(principal_id or ""))
    return str(sp.get("appId") or principal_id) if sp else str(principal_id or "")


def items(body: dict) -> list[dict]:
    """The records of one page (`value`), skipping anything that is not an object."""
    return [item for item in body["value"] if isinstance(item, dict)]


def when(value) -> datetime.datetime | None:
    """A Graph timestamp (ISO 8601) as a datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def first_owner(principal: dict) -> str:
    """The first listed owner's id (Graph lists owners in no meaningful order; the ledger keeps
    one owner per identity, and the raw record keeps them all)."""
    owners = principal.get("owners")
    if isinstance(owners, list):
        for owner in owners:
            if isinstance(owner, dict) and owner.get("id"):
                return str(owner["id"])
    return ""


# --- permissions and errors -----------------------------------------------------------------


def role_check(capability: str, roles: set[str]) -> Check:
    """Whether the token's roles cover a write capability (verify() cannot try a write)."""
    if not roles:
        return Check(capability, True, "the token lists no roles: checked at first use")
    if any(not need & roles for need in _ROLE_NEEDS[capability]):
        return Check(capability, False, f"missing Graph permission: {PERMISSIONS[capability]}")
    return Check(capability, True, f"granted ({PERMISSIONS[capability]})")


def failure(response: transport.Response, call: str) -> ConnectorError:
    """A ConnectorError naming the missing permission on a 403; StateExpired on a 410."""
    hints = {
        403: f"the app registration lacks the Graph application permission "
        f"{PERMISSIONS.get(call, '?')} (with admin consent)",
        410: "the delta link has expired: start again with grant_changes('')",
    }
    error = bearer_failure(response, call, hints)
    if response.status == 410:
        return StateExpired(
            error.message,
            call=error.call,
            endpoint=error.endpoint,
            status=error.status,
            error_code=error.error_code,
        )
    return error
