"""The `google` kind: a Google Workspace domain through the Admin SDK Directory API.

- Token: a service account with domain-wide delegation. The connector signs an RS256 JWT
  assertion with the account's private key (`iss` = its `client_email`, `sub` = the
  `admin_email` it impersonates, `scope`, `aud` = the token URL, one hour) and exchanges it at
  the token URL (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`). One token per scope
  set, so a scope the domain did not delegate fails only the capabilities that need it:
  listing users needs `admin.directory.user.readonly`; tokens (list and delete) need
  `admin.directory.user.security`.
- Identities: `GET /admin/directory/v1/users?customer=…` (`maxResults`/`pageToken`).
- Grants: per user, `GET /admin/directory/v1/users/{userKey}/tokens`: the third-party OAuth
  apps the user authorised (no pagination, no timestamps, no id: a grant is keyed by user and
  `clientId`, so `idp_id` is empty). Grant type `consent`.
- Revoke: `DELETE /admin/directory/v1/users/{userKey}/tokens/{clientId}` ("deletes all access
  tokens issued by a user for an application"); a 404 means already revoked. A token value is
  NotSupported (Google's token revocation endpoint is not an admin call).
- Containment: `tokens.get` / `tokens.delete` for one user and app (a second delete's 404 is
  confirmed by `tokens.get`); cutting a user off is `users.signOut` (web and device sessions:
  OAuth tokens survive it) then `tokens.delete` for each app the user authorised. A client's
  own grants: NotSupported (the Directory API lists an app's tokens only user by user).
- Clients, deactivate, introspect: NotSupported (the Directory API lists no OAuth clients and
  cannot disable a third-party app; Google has no RFC 7662).
- Rate limits: Google sends no remaining-count header, so the connector spaces its Directory
  calls to `requests_per_minute` (default 2,400, Google's default per-user quota). 403
  `userRateLimitExceeded`/`rateLimitExceeded`/`quotaExceeded` and 429 are retryable
  ConnectorErrors: `retry_after` is `Retry-After` when given, else the first step of the
  exponential backoff Google documents (1 s).

Config: `admin_email` (required: a super admin the service account impersonates), `customer`
(default `my_customer`), `page_size` (default 500), `requests_per_minute` (default 2400),
`timeout_seconds` (default 20). URL
overrides (tests): `token_url` (default the key's `token_uri`, else
`https://oauth2.googleapis.com/token`), `directory_url` (default `https://admin.googleapis.com`).
The secret is the service account's key file (JSON).
"""

from governance.connectors.google.connector import GoogleConnector

__all__ = ["GoogleConnector"]
