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

from governance.connectors.entra.answers import PERMISSIONS
from governance.connectors.entra.connector import EntraConnector
from governance.connectors.entra.credential import JWT_BEARER, is_private_key
from governance.connectors.entra.urls import GRAPH_URL

__all__ = ["GRAPH_URL", "JWT_BEARER", "PERMISSIONS", "EntraConnector", "is_private_key"]
