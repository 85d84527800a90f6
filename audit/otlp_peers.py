"""Which inventory server a CLIENT span called, found by the server's remote URL.

A client's span names its peer only by network address (`server.address` "127.0.0.1",
`server.port`, `url.full` or `url.path`); naming the server after that address made a second
server beside the real one. The span is joined to the server that has that remote URL: first a
server the same export describes (its own spans carry `mcp.server.url`), then the inventory's
remotes (registry entries, gateway events). Only when neither knows the URL, or several servers
share it, is the server named after `server.address`, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Bounds one export's lookup: an export naming more peer hosts than this keeps address names for
# the rest rather than sending an unbounded query.
MAX_HOSTS_PER_EXPORT = 50
MAX_REMOTES_READ = 5000


@dataclass(frozen=True)
class Peer:
    """What a span says about the server it called; None parts are unknown and match anything."""

    host: str
    scheme: str | None = None
    port: int | None = None
    path: str | None = None

    def matches(self, other: Peer) -> bool:
        return self.host == other.host and all(
            mine is None or mine == theirs for mine, theirs in (
                (self.scheme, other.scheme), (self.port, other.port), (self.path, other.path)))


def peer_from_url(url: str) -> Peer | None:
    """A remote URL as a Peer with every part known (default ports filled in)."""
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return Peer(host=host, scheme=scheme, port=port or _DEFAULT_PORTS[scheme],
                path=parts.path.rstrip("/"))


def peer_from_span(url_full: str | None, attrs: dict, address: str | None) -> Peer | None:
    """The called server from `url.full`, else from server.address / server.port / url.path."""
    if url_full:
        return peer_from_url(url_full)
    if not address:
        return None
    scheme = attrs.get("url.scheme")
    scheme = scheme.lower() if isinstance(scheme, str) and scheme.lower() in _DEFAULT_PORTS \
        else None
    port = attrs.get("server.port")
    port = port if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536 \
        else (_DEFAULT_PORTS[scheme] if scheme else None)
    path = attrs.get("url.path")
    path = path.rstrip("/") if isinstance(path, str) else None
    return Peer(host=address.strip("[]").lower(), scheme=scheme, port=port, path=path)


def name_called_servers(events: list[dict], called: list[tuple[int, Peer]], lookup) -> None:
    """Give each client event in `called` (index, peer) the name of the server it called, when
    one server is known at that URL; `lookup(hosts)` returns the inventory's (url, name) rows."""
    known = _remotes_in(events, {index for index, _ in called})
    unresolved = [(i, p) for i, p in called if not _assign(events[i], p, known)]
    if not unresolved or lookup is None:
        return
    hosts = sorted({peer.host for _, peer in unresolved})[:MAX_HOSTS_PER_EXPORT]
    remotes = [(peer, name) for url, name in lookup(hosts)
               if (peer := peer_from_url(url)) is not None]
    for index, peer in unresolved:
        _assign(events[index], peer, remotes)


def _remotes_in(events: list[dict], clients: set[int]) -> list[tuple[Peer, str]]:
    """Servers the export itself describes by name and URL (not the client spans' guesses)."""
    out = []
    for index, event in enumerate(events):
        server = event.get("server")
        if index in clients or not server or not server.get("name") or not server.get("url"):
            continue
        peer = peer_from_url(server["url"])
        if peer is not None:
            out.append((peer, server["name"]))
    return out


def _assign(event: dict, peer: Peer, remotes: list[tuple[Peer, str]]) -> bool:
    names = {name for remote, name in remotes if peer.matches(remote)}
    if len(names) != 1:
        return False  # unknown, or ambiguous: keep the address name rather than guess
    event.setdefault("server", {})["name"] = names.pop()
    return True


def inventory_remotes(hosts: list[str]) -> list[tuple[str, str]]:
    """(remote url, server name) of the inventory's remotes on these hosts (one query)."""
    from django.db.models import Q

    from inventory.models import ServerRemote

    if not hosts:
        return []
    # icontains, not a prefix: stored URLs may carry a port or userinfo before the path.
    query = reduce(or_, (Q(url__icontains=host) for host in hosts))
    rows = ServerRemote.objects.filter(query).values_list("url", "server__name")
    return list(rows.order_by("server__name", "url")[:MAX_REMOTES_READ])
