"""Which inventory server a CLIENT span called, found by the server's remote URL.

A client's span names its peer only by network address (`server.address` "127.0.0.1",
`server.port`, `url.full` or `url.path`); naming the server after that address made a second
server beside the real one. The span is joined to the server that has that remote URL: first a
server the same export describes (its own spans carry `mcp.server.url`), then the inventory's
remotes (registry entries, gateway events). Only when neither knows the URL, or several servers
share it, is the server named after `server.address`, as before. The native ingest joins an
event that reports only `server.url` the same way (audit/services/server_join.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import reduce
from operator import or_
from urllib.parse import urlsplit

from django.db.models import Q

from inventory.models import ServerRemote

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Bound one export's work: peers (distinct URLs) and hosts beyond these keep their address names
# rather than costing an unbounded query or comparison.
MAX_HOSTS_PER_EXPORT = 50
MAX_PEERS_PER_EXPORT = 500
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
            mine is None or mine == theirs
            for mine, theirs in (
                (self.scheme, other.scheme),
                (self.port, other.port),
                (self.path, other.path),
            )
        )


def peer_from_url(url: str) -> Peer | None:
    """A remote URL as a Peer with every part known (default ports filled in)."""
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return Peer(
        host=host, scheme=scheme, port=port or _DEFAULT_PORTS[scheme], path=parts.path.rstrip("/")
    )


def peer_from_span(url_full: str | None, attrs: dict, address: str | None) -> Peer | None:
    """The called server from `url.full`, else from server.address / server.port / url.path."""
    if url_full:
        return peer_from_url(url_full)
    if not address:
        return None
    scheme = attrs.get("url.scheme")
    scheme = (
        scheme.lower() if isinstance(scheme, str) and scheme.lower() in _DEFAULT_PORTS else None
    )
    port = attrs.get("server.port")
    port = (
        port
        if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536
        else (_DEFAULT_PORTS[scheme] if scheme else None)
    )
    path = attrs.get("url.path")
    path = path.rstrip("/") if isinstance(path, str) else None
    return Peer(host=address.strip("[]").lower(), scheme=scheme, port=port, path=path)


def name_called_servers(events: list[dict], called: list[tuple[int, Peer]], lookup) -> None:
    """Give each client event in `called` (index, peer) the name of the server it called, when
    one server is known at that URL; `lookup(hosts)` returns the inventory's (url, name) rows."""
    names = name_peers(
        [peer for _, peer in called], _remotes_in(events, {index for index, _ in called}), lookup
    )
    for index, peer in called:
        if names.get(peer):
            events[index].setdefault("server", {})["name"] = names[peer]


def name_peers(
    peers: list[Peer], described: list[tuple[Peer, str]], lookup
) -> dict[Peer, str | None]:
    """The one server name known at each peer: first among the (peer, name) remotes the same
    export or batch `described`, then the inventory's (`lookup(hosts)`, one query for all);
    None when unknown or ambiguous. The native ingest uses it too (audit/services/ingest.py)."""
    peers = list(dict.fromkeys(peers))[:MAX_PEERS_PER_EXPORT]
    in_export = _Known(described)
    names = {peer: in_export.name_for(peer) for peer in peers}
    unknown_hosts = sorted({peer.host for peer, name in names.items() if name is None})
    if unknown_hosts and lookup is not None:
        inventory = _Known(
            (peer, name)
            for url, name in lookup(unknown_hosts[:MAX_HOSTS_PER_EXPORT])
            if (peer := peer_from_url(url)) is not None
        )
        names = {peer: name or inventory.name_for(peer) for peer, name in names.items()}
    return names


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


class _Known:
    """Remotes indexed by host and by (host, path), so one peer is compared only with the
    remotes it could match (a shared hosting domain may carry thousands)."""

    def __init__(self, remotes):
        self.by_host, self.by_path = defaultdict(list), defaultdict(list)
        for peer, name in remotes:
            self.by_host[peer.host].append((peer, name))
            self.by_path[(peer.host, peer.path)].append((peer, name))

    def name_for(self, peer: Peer) -> str | None:
        """The one server name at this peer; None when unknown or ambiguous (then the address
        names the server rather than a guess)."""
        candidates = (
            self.by_host.get(peer.host, ())
            if peer.path is None
            else self.by_path.get((peer.host, peer.path), ())
        )
        names = {name for remote, name in candidates if peer.matches(remote)}
        return names.pop() if len(names) == 1 else None


def inventory_remotes(hosts: list[str]) -> list[tuple[str, str]]:
    """(remote url, server name) of the inventory's remotes on these hosts (one query)."""
    if not hosts:
        return []
    # icontains, not a prefix: stored URLs may carry a port or userinfo before the path.
    query = reduce(or_, (Q(url__icontains=host) for host in hosts))
    rows = ServerRemote.objects.filter(query).values_list("url", "server__name")
    return list(rows.order_by("server__name", "url")[:MAX_REMOTES_READ])
