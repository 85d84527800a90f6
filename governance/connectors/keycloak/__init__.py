"""The `keycloak` kind: one Keycloak realm through its Admin REST API, as a confidential client
with a service account (client credentials).

- Identities: the realm's users (service-account users are kind `service`). Clients: the
  realm's clients, `idp_id` = the client's UUID, `client_id` = its clientId.
- Grants: each user's consents (grant_type `consent`, no IdP id: Keycloak keys them by user
  and client; `grantedClientScopes` are the scopes, `createdDate` the creation) and each
  client's offline sessions (grant_type `refresh_token`, `idp_id` = the session id: an
  offline token an agent can keep refreshing).
- Revoke: a consent by `DELETE /users/{id}/consents/{clientId}` (Keycloak also drops the
  user's offline tokens for that client; the second call's 404 "Consent nor offline token not
  found" is `already_absent`); an offline session by `DELETE /sessions/{id}?isOffline=true`.
  A token value alone is NotSupported.
- Containment (containment.py): what one user granted one client is the user's consent entry
  for it (Keycloak lists a client with only an offline token there too), revoked by deleting
  the consent (offline tokens go with it); cutting a user off is `POST /users/{id}/logout`
  (not-before set to now, every online session ended) and then deleting each consent; a
  client's own grants are its offline sessions, each deleted. Deactivate and reactivate: find
  the client's UUID, GET its full representation, PUT it back with `enabled` changed (Keycloak's
  PUT takes the full representation); client_active reads `enabled`.
- Pages: `first`/`max` (a page shorter than `max` is the last; a page that repeats the
  previous one ends the listing with an error). Keycloak has no rate limits of its own; a 429
  or 503 from a proxy in front of it carries `Retry-After`.

Config: `base_url` (the server's root, e.g. https://sso.example.com), `realm`, `client_id`
(required), `page_size` (100), `timeout_seconds`. The secret is the client's secret. The
service account needs the `realm-management` roles named in docs/connectors.md.
"""

from governance.connectors.keycloak.connector import ROLES, KeycloakConnector

__all__ = ["ROLES", "KeycloakConnector"]
