"""Microsoft Graph URLs for the entra connector: the OData query options and the path of each
call, checked against msgraph-sdk's request builders in the tests. No I/O."""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

GRAPH_URL = "https://graph.microsoft.com/v1.0"
PAGE_SIZE = 999  # Graph's maximum $top for users and service principals
_USER_FIELDS = "id,displayName,userPrincipalName,mail,accountEnabled"
_SP_FIELDS = "id,appId,displayName,accountEnabled,servicePrincipalType,appRoles"


class GraphUrls:
    """The URL of each Graph call, relative to the connector's `graph_url`."""

    graph_url: str

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
        return self.url(f"/oauth2PermissionGrants{'/' + seg(grant_id) if grant_id else ''}")

    def assigned_to_url(self, resource_id: str, assignment_id: str = "") -> str:
        tail = f"/{seg(assignment_id)}" if assignment_id else ""
        return self.url(f"/servicePrincipals/{seg(resource_id)}/appRoleAssignedTo{tail}")

    def principal_by_app_id_url(self, app_id: str, **query: str) -> str:
        quoted = seg(app_id.replace("'", "''"))  # OData doubles a quote inside a string
        return self.url(f"/servicePrincipals(appId='{quoted}')", **query)

    def agent_identity_url(self, principal_id: str) -> str:
        """An Entra Agent ID's own update path (Graph's agentidentity-update; msgraph-sdk
        1.65.0 has no v1.0 builder for this cast, so no oracle checks it)."""
        return self.url(f"/servicePrincipals/{seg(principal_id)}/microsoft.graph.agentIdentity")

    def grants_where_url(self, **where: str) -> str:
        """Delegated grants filtered by OData `$filter` on their fields (clientId is the
        client's service principal object id), e.g. clientId and principalId."""
        condition = " and ".join(
            f"{key} eq '{value.replace(chr(39), chr(39) * 2)}'" for key, value in where.items()
        )
        return self.url("/oauth2PermissionGrants", filter=condition)

    def role_assignments_url(self, principal_id: str) -> str:
        """The app roles assigned *to* a service principal (what its client credentials get)."""
        return self.url(f"/servicePrincipals/{seg(principal_id)}/appRoleAssignments")

    def user_url(self, user_id: str) -> str:
        return self.url(f"/users/{seg(user_id)}", select="id")

    def sign_in_sessions_url(self, user_id: str) -> str:
        return self.url(f"/users/{seg(user_id)}/revokeSignInSessions")


def seg(value: str) -> str:
    """One path segment, percent-encoded (a quote kept for OData's key syntax)."""
    return quote(str(value), safe="'")


def origin(url: str) -> str:
    """`scheme://host[:port]`, lower-cased: a next link must stay on Graph's origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
