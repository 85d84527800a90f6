"""The `auth0` kind: an Auth0 tenant through its Management API v2.

- Token: client credentials at `https://{domain}/oauth/token` with the audience
  `https://{domain}/api/v2/` (a Management API machine-to-machine application). The token is
  fetched once and again on expiry or a 401.
- Identities: `GET /users` (`page`/`per_page`; Auth0 returns at most 1,000 users this way, so
  a larger tenant is a `too_many_users` error rather than a partial list).
  Clients: `GET /clients` (`page`/`per_page`).
- Grants, normalised per idp.md §0: user consents (`GET /grants`, `page`/`per_page`, grant type
  `consent`), each user's refresh tokens (`GET /users/{id}/refresh-tokens`, `from`/`take`
  checkpoints; Enterprise plan only, turned off with `list_refresh_tokens: false`) and client
  grants, the machine-to-machine permissions (`GET /client-grants`, `from`/`take`, grant type
  `application_permission`, no user: `subject` is empty).
- Revoke: `DELETE /grants/{id}`, `/refresh-tokens/{id}` (eventually consistent at Auth0) or
  `/client-grants/{id}`, by the grant's type; a 404 means already revoked. Revoking a token
  value is NotSupported: Auth0's `/oauth/revoke` only takes the issuing client's credentials.
- Deactivate: NotSupported (Auth0 clients have no enabled flag). Introspect: NotSupported.
- Rate limits: `X-RateLimit-Limit/Remaining/Reset` (reset in epoch seconds, measured against
  the server's `Date`), paced by pacing.py's Pacer: when a response says nothing remains, the
  next call waits for the reset instead of collecting a 429. A 429 is a retryable
  ConnectorError whose `retry_after` comes from its `Retry-After`, else its own
  `X-RateLimit-Reset`, else the window's reset as the last answer announced it.

Config: `domain`, `client_id` (required); `list_refresh_tokens` (default true), `page_size`
(default 100), `timeout_seconds` (default 20). URL overrides (tests): `api_url` (default
`https://{domain}/api/v2`), `token_url` (default `https://{domain}/oauth/token`).
The secret is the M2M application's client secret.
"""

from governance.connectors.auth0.answers import USERS_CAP
from governance.connectors.auth0.connector import PROBE_ID, Auth0Connector

__all__ = ["PROBE_ID", "USERS_CAP", "Auth0Connector"]
