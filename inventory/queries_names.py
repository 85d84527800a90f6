"""Names for the keys audit events carry, and keys for the names people type.

Audit events name an identity by (issuer, subject), a client by its client_id and a server by
its registry name: opaque to a person. The explorer resolves what a person types (an e-mail, a
display name, a client's or server's name) to those keys here, suggests as they type, and turns
a page of events' keys back into names and links in one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q

from inventory.models import Client, Identity, Server

SUGGESTIONS = 10


def identity_keys_named(text: str) -> list[tuple[str, str]]:
    """(issuer, subject) of the identities whose subject, e-mail or display name is `text`
    (case-insensitive for the names; several people may share a display name)."""
    text = text.strip()
    if not text:
        return []
    rows = Identity.objects.filter(
        Q(subject=text) | Q(email__iexact=text) | Q(display_name__iexact=text)
    )
    return list(rows.order_by("issuer", "subject").values_list("issuer", "subject")[:100])


def client_ids_named(text: str) -> list[str]:
    """client_ids of the clients whose client_id or name is `text`."""
    text = text.strip()
    if not text:
        return []
    rows = Client.objects.filter(Q(client_id=text) | Q(name__iexact=text))
    return list(rows.order_by("client_id").values_list("client_id", flat=True)[:100])


def server_names_named(text: str) -> list[str]:
    """Registry names of the servers whose name or title is `text`."""
    text = text.strip()
    if not text:
        return []
    rows = Server.objects.filter(Q(name=text) | Q(title__iexact=text))
    return list(rows.order_by("name").values_list("name", flat=True)[:100])


@dataclass(frozen=True)
class Suggestion:
    """One <option> of a filter's datalist: the value the filter resolves, and who it is."""

    value: str
    label: str


def suggestions(kind: str, text: str, *, limit: int = SUGGESTIONS) -> list[Suggestion]:
    """Up to `limit` identities, clients or servers whose names start with or contain `text`
    (at least two characters: one letter matches half the inventory)."""
    text = text.strip()
    if len(text) < 2:
        return []
    if kind == "identity":
        rows = Identity.objects.filter(
            Q(display_name__icontains=text) | Q(email__icontains=text) | Q(subject__startswith=text)
        ).order_by("display_name", "email", "id")[:limit]
        # The e-mail when there is one: it resolves back to this person and reads as one.
        return [Suggestion(i.email or i.subject, _identity_label(i)) for i in rows]
    if kind == "client":
        rows = Client.objects.filter(
            Q(name__icontains=text) | Q(client_id__icontains=text)
        ).order_by("name", "client_id")[:limit]
        return [Suggestion(c.name or c.client_id, c.client_id) for c in rows]
    if kind == "server":
        rows = Server.objects.filter(Q(name__icontains=text) | Q(title__icontains=text)).order_by(
            "name"
        )[:limit]
        return [Suggestion(s.name, s.title or s.name) for s in rows]
    raise ValueError(f"no suggestions for {kind!r}")


def _identity_label(identity: Identity) -> str:
    parts = [identity.display_name, identity.email, identity.subject]
    return " · ".join(p for p in dict.fromkeys(parts) if p)


@dataclass(frozen=True)
class Named:
    """An inventory object behind an event's key: its kind ("identity", "client", "server"),
    primary key and name."""

    kind: str
    pk: int
    name: str


# One round trip for a page of events, whatever its size: three keyed lookups in one UNION.
_NAMES_SQL = """
SELECT 'identity', i.issuer, i.subject, i.id, COALESCE(NULLIF(i.display_name, ''),
       NULLIF(i.email, ''), i.subject)
  FROM inventory_identity i
  JOIN unnest(%s::text[], %s::text[]) AS k(issuer, subject)
    ON i.issuer = k.issuer AND i.subject = k.subject
UNION ALL
SELECT 'client', '', c.client_id, c.id, COALESCE(NULLIF(c.name, ''), c.client_id)
  FROM inventory_client c WHERE c.client_id = ANY(%s::text[])
UNION ALL
SELECT 'server', '', s.name, s.id, COALESCE(NULLIF(s.title, ''), s.name)
  FROM inventory_server s WHERE s.name = ANY(%s::text[])
"""


def names_for_keys(
    *,
    identities: Iterable[tuple[str, str]] = (),
    clients: Iterable[str] = (),
    servers: Iterable[str] = (),
) -> dict[tuple, Named]:
    """{("identity", issuer, subject) | ("client", client_id) | ("server", name): Named} for the
    keys the inventory knows, in one query (absent keys: not in the inventory)."""
    pairs = sorted({(i, s) for i, s in identities if s})
    clients, servers = sorted(set(filter(None, clients))), sorted(set(filter(None, servers)))
    if not (pairs or clients or servers):
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            _NAMES_SQL,
            [[p[0] for p in pairs], [p[1] for p in pairs], clients, servers],
        )
        found = {}
        for kind, issuer, key, pk, name in cursor.fetchall():
            found[(kind, issuer, key) if kind == "identity" else (kind, key)] = Named(
                kind, pk, name
            )
    return found
