"""The connector kinds, keyed by name: the one place a new kind is registered."""

from __future__ import annotations

from typing import Any

from governance.connectors.auth0 import Auth0Connector
from governance.connectors.base import Connector, ConnectorError
from governance.connectors.entra import EntraConnector
from governance.connectors.google import GoogleConnector
from governance.connectors.keycloak import KeycloakConnector
from governance.connectors.oauth import OAuthConnector
from governance.connectors.okta import OktaConnector

# kind name -> Connector subclass. Issue 12 adds okta, entra, keycloak, auth0, google.
KINDS: dict[str, type[Connector]] = {
    OAuthConnector.kind: OAuthConnector,
    EntraConnector.kind: EntraConnector,
    KeycloakConnector.kind: KeycloakConnector,
    Auth0Connector.kind: Auth0Connector,
    GoogleConnector.kind: GoogleConnector,
    OktaConnector.kind: OktaConnector,
}


def connector_for(kind: str, config: dict[str, Any], secret: str) -> Connector:
    """A connector of `kind` for one IdP connection; ConnectorError for an unknown kind."""
    try:
        cls = KINDS[kind]
    except KeyError:
        raise ConnectorError(
            f"unknown connector kind {kind!r} (known: {', '.join(sorted(KINDS))})",
            call="configure",
            error_code="unknown_kind",
        ) from None
    return cls(config, secret)
