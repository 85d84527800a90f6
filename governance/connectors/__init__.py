"""IdP connectors: one module per kind of identity provider, one interface, one registry.

A connector is network I/O to one upstream IdP and nothing else: it lists identities, clients
and grants, revokes, introspects and deactivates, and returns plain frozen dataclasses. It never
touches the database and is never called inside `transaction.atomic()`; the services that use
it (IdP syncs, revocation jobs) store the results and record what they did. All HTTP goes
through `transport.py`, on top of the project's SSRF-safe fetcher, with explicit timeouts.

- `base.py`: the interface (`Connector`), the data (`IdpIdentity`, `IdpClient`, `IdpGrant`,
  `TokenStatus`, `RevokeResult`, `Check`) and the errors (`ConnectorError`, `NotSupported`).
  The containment calls (issue 13: `grants_for`, `revoke_user_client`, `cut_off_identity`,
  `revoke_client_grants`, `reactivate_client_grants`, `reactivate`, `client_active`) live in
  each vendor kind's `containment.py` (oauth: `admin.py`, google: in its connector).
- `registry.py`: `KINDS` and `connector_for(kind, config, secret)`.
- `oauth/`: the `oauth` kind, any standards OAuth 2.0 / OIDC authorization server (its
  optional `grants_url` / `clients_url` admin routes in `admin.py`).
- `entra/` (Microsoft Graph) and `keycloak/` (Admin REST API): vendor kinds that sign in
  with client credentials through `bearer.py` (the token, one retry after a 401, error bodies,
  the repeated-cursor guard). `entra/` keeps the connector in `connector.py`, Graph URLs in
  `urls.py`, records and error hints in `answers.py`, the certificate credential in
  `credential.py`.
- `auth0/`: the `auth0` kind, an Auth0 tenant's Management API v2 (`connector.py`; records and
  error hints in `answers.py`).
- `google/`: the `google` kind, a Google Workspace domain's Admin SDK Directory API.
- `okta/`: the `okta` kind, an Okta org's Management API as a private_key_jwt service app.
- `pacing.py`: waiting under an IdP's advertised rate-limit window (Okta, Auth0 headers).
- `assertion.py`: signed JWT client assertions (private_key_jwt) from a PEM key.

How to add a kind (say `acme`):
1. `governance/connectors/acme.py` (a package like `okta/` once it passes ~400 lines:
   `connector.py`, helpers beside it): a `Connector` subclass with `kind = "acme"`, the
   `capabilities` it has, and those methods. What it cannot do stays the base class's
   `NotSupported` (never a silent empty list); `verify()` makes one harmless call per capability.
2. Register it in `registry.KINDS`.
3. A peer: a real server on 127.0.0.1 (or the vendor's spec under Prism) and a fixture in
   `tests/governance/connectors/peers.py` that starts it and describes it as a `Peer`.
4. Add the peer to `PEERS` there: the shared contract suite
   (`tests/governance/connectors/test_contract.py`) then runs against it. Odd answers the peer
   cannot produce get `httpx.MockTransport` unit tests next to it.
See docs/connectors.md.
"""

from governance.connectors.base import (
    Check,
    Connector,
    ConnectorError,
    GrantChanges,
    IdpClient,
    IdpGrant,
    IdpIdentity,
    NotSupported,
    RevokeResult,
    StateExpired,
    TokenStatus,
)
from governance.connectors.registry import KINDS, connector_for

__all__ = [
    "KINDS",
    "Check",
    "Connector",
    "ConnectorError",
    "GrantChanges",
    "IdpClient",
    "IdpGrant",
    "IdpIdentity",
    "NotSupported",
    "RevokeResult",
    "StateExpired",
    "TokenStatus",
    "connector_for",
]
