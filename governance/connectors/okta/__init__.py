"""The `okta` kind: an Okta org through its Management API, as an OAuth 2.0 service app.

Credential: a service app with `private_key_jwt` (idp.md §1.4). The console signs a client
assertion with the connection's PEM private key and asks the org authorization server for a
client-credentials token carrying only the scopes the call needs (`SCOPES`), one token per
scope set, cached until shortly before it expires. A scope the app was not granted is named in
the error, and `verify()` makes one harmless call per capability to say which one is missing.

Config: `domain` (the org, e.g. `acme.okta.com`), `client_id` (the service app's), optional
`key_id` (the `kid` of the app's public key), optional `timeout_seconds`. The secret is the PEM
private key. URL overrides, for tests on 127.0.0.1: `base_url` (default `https://<domain>`)
and `token_url` (default `<base_url>/oauth2/v1/token`).

What it lists (normalised per idp.md §0 onto `IdpGrant`):
- identities: `GET /api/v1/users` (the manager: the profile's `managerId`);
- clients: `GET /api/v1/apps` (client_id = the OAuth client id, else the app id);
- grants, per user: consents `GET /api/v1/users/{id}/grants` (one per scope, `consent`);
  per app: refresh tokens `GET /api/v1/apps/{id}/tokens` (every user's, `refresh_token`: the
  same records as the per-user, per-client lists at one call per app), the app's own Okta-API
  scope grants `GET /api/v1/apps/{id}/grants` (`application_permission`) and its Cross App
  Access connections `GET /api/v1/apps/{id}/cwo/connections` (ID-JAG, `jwt_bearer`; EA: a 404
  there means the feature is off for the org and lists nothing).
Revoke deletes the listed record (a second revoke's 404 is `already_absent`); revoking a token
*value* is NotSupported (Okta's /oauth2/v1/revoke needs the token's own client). Deactivate
is `POST /api/v1/apps/{id}/lifecycle/deactivate` (reversible in Okta: `reactivate`).
Containment (containment.py): a user's consents and refresh tokens for one client by Okta's
per user+client lists and bulk deletes; a user cut off by `DELETE /users/{id}/sessions?
oauthTokens=true`; an app's own grants (every user's refresh tokens for it, its Okta-API scope
grants) deleted and its Cross App Access connections as the requesting app set INACTIVE
(`reactivate_client_grants` sets them ACTIVE); `client_active` from the app list's status.

Pagination follows `Link: <…>; rel="next"` verbatim, on the same origin only, and stops with an
error when a cursor repeats. Pacing: `X-Rate-Limit-*` against the answer's `Date`
(pacing.py), one bucket per endpoint family; a 429 is a retryable ConnectorError whose
`retry_after` is its own X-Rate-Limit-Reset (else the bucket's last known reset).
"""

from governance.connectors.okta.connector import SCOPES, OktaConnector

__all__ = ["SCOPES", "OktaConnector"]
