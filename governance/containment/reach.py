"""Which IdP connection answers for an issuer, and whether the console can act through it.

The plan asks here before it plans a call (so a grant it cannot revoke becomes a warning and a
"skipped" step with the reason, never a silent gap), and the runner asks for the connector it
calls. Building a connector decrypts the connection's credential: it is kept in memory only.
"""

from __future__ import annotations

from dataclasses import dataclass

from governance.access import secrets
from governance.connectors import Connector, ConnectorError, connector_for
from governance.idp.connections import connection_for_issuer
from governance.idp.models import IdpConnection


@dataclass
class Reach:
    """One connection (or none) and the connector built for it, or why none can be built."""

    connection: IdpConnection | None
    connector: Connector | None
    problem: str = ""  # why no call can go through it ("" when calls can)

    @property
    def name(self) -> str:
        return self.connection.name if self.connection else ""

    def why_not(self, capability: str) -> str:
        """ "" when the connector can do `capability`, else the reason (said on the plan)."""
        if self.problem:
            return self.problem
        if not self.connector.supports(capability):
            return str(self.connector.unsupported(capability))
        return ""


def reach_connection(connection: IdpConnection) -> Reach:
    """The connector for `connection`, or the reason it cannot act."""
    if not connection.enabled:
        return Reach(connection, None, f"the connection {connection.name!r} is disabled")
    if not connection.secret_encrypted:
        why = "a demo connection" if connection.is_demo else "a connection"
        return Reach(connection, None, f"{connection.name!r} is {why} without a credential")
    try:
        secret = secrets.decrypt(connection.secret_encrypted)
        connector = connector_for(connection.kind, connection.config, secret)
    except (ConnectorError, secrets.SecretUnreadable) as exc:
        return Reach(connection, None, f"{connection.name!r} cannot be used: {exc}")
    return Reach(connection, connector)


class Resolver:
    """Issuer → Reach, each connection built once per plan or run."""

    def __init__(self):
        self._by_issuer: dict[str, Reach] = {}
        self._by_connection: dict[int, Reach] = {}

    def for_issuer(self, issuer: str) -> Reach:
        key = (issuer or "").strip().rstrip("/")
        if key not in self._by_issuer:
            connection = connection_for_issuer(issuer)
            if connection is None:
                reach = Reach(None, None, f"no IdP connection answers for the issuer {issuer!r}")
            else:
                reach = self.for_connection(connection)
            self._by_issuer[key] = reach
        return self._by_issuer[key]

    def for_connection(self, connection: IdpConnection) -> Reach:
        if connection.pk not in self._by_connection:
            self._by_connection[connection.pk] = reach_connection(connection)
        return self._by_connection[connection.pk]

    def for_connection_id(self, connection_id: int | None) -> Reach:
        if connection_id is None:
            return Reach(None, None, "the step names no IdP connection")
        if connection_id not in self._by_connection:
            connection = IdpConnection.objects.filter(pk=connection_id).first()
            if connection is None:
                return Reach(None, None, "its IdP connection was deleted")
            self._by_connection[connection_id] = reach_connection(connection)
        return self._by_connection[connection_id]
