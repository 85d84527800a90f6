"""The `oauth` kind: any OAuth 2.0 / OIDC authorization server, by the standards alone.

- Discovery from the issuer: OIDC (`/.well-known/openid-configuration`), then RFC 8414
  (`/.well-known/oauth-authorization-server`, path inserted); the answer's `issuer` must match.
- RFC 7662 introspection and RFC 7009 revocation, authenticated as the console's own client:
  client_secret_basic, or client_secret_post when the AS advertises only that for the endpoint.
- Grants have no standard admin API: only when the config names a `grants_url`, an admin route
  (the convention, which our test peer implements) with the same client authentication:
  - `GET <grants_url>[?subject=<sub>&client_id=<id>]` answers `{"grants": [...], "next":
    <optional URL of the next page>}`; the filters narrow the list (the connector also filters
    what comes back, for a route that ignores them);
  - `DELETE <grants_url>/<id>` destroys a grant and every token issued under it: 2xx, or 404
    when it is already gone.
  With it the kind lists grants, revokes listed grants, and contains: everything one subject
  granted one client (`revoke_user_client`), everything a subject granted (`cut_off_identity`)
  and everything granted to a client (`revoke_client_grants`), each a DELETE per listed grant.
- Clients have no standard admin API either: only when the config names a `clients_url`:
  - `GET <clients_url>/<client_id>` answers `{"client_id", "active": true|false}`;
  - `PATCH <clients_url>/<client_id>` with `{"active": false}` (or `true`) disables (enables)
    the client: a disabled client gets no token (e.g. `invalid_client` at the token endpoint).
    2xx, and doing it twice succeeds; 404 for an unknown client.
  With it the kind deactivates, reactivates and reads a client (`client_active`).
  Identities and listing clients are NotSupported.

Config: `issuer` (required), `client_id` (required), `grants_url`, `clients_url`,
`timeout_seconds`. The secret is the client's secret.
"""

from governance.connectors.oauth.connector import PROBE_TOKEN, OAuthConnector

__all__ = ["PROBE_TOKEN", "OAuthConnector"]
