"""Which inventory server a native event reporting only `server.url` is about.

Validation names such a server after the URL's host (audit/services/validation.py), which made
a second server beside the real one that has that remote URL. Before the batch is stored, its
URL-only rows are joined to the server known at that URL, with the OTLP client-span matching
(audit/otlp_peers.py: default ports, case, a trailing slash): first a server the same batch
names with that URL, then the inventory's remotes, in one query for the whole batch. Only
when neither knows the URL, or several servers share it, does the host name stay.
"""

from __future__ import annotations

from audit.otlp_peers import inventory_remotes, name_peers, peer_from_url
from audit.services.validation import STAGE_COLUMNS

SERVER_NAME = STAGE_COLUMNS.index("server_name")
SERVER_URL = STAGE_COLUMNS.index("server_url")


def join_servers_by_url(rows: list[tuple], reports: list[dict], by_host: list[int]) -> None:
    """Rename, in place, the rows at `by_host` (named after their URL's host) and their task
    reports to the server that has their URL, where one does."""
    peers = {index: peer_from_url(rows[index][SERVER_URL]) for index in by_host}
    guessed = set(by_host)
    stated = {
        (row[SERVER_URL], row[SERVER_NAME])
        for index, row in enumerate(rows)
        if row[SERVER_URL] and index not in guessed
    }
    described = [(peer, name) for url, name in stated if (peer := peer_from_url(url))]
    names = name_peers([peer for peer in peers.values() if peer], described, inventory_remotes)
    renamed = {}
    for index, peer in peers.items():
        name = names.get(peer) if peer else None
        if name and name != rows[index][SERVER_NAME]:
            row = rows[index]
            rows[index] = (*row[:SERVER_NAME], name, *row[SERVER_NAME + 1 :])
            renamed[index] = name
    for report in reports:
        if report["ordinal"] in renamed:
            report["server_name"] = renamed[report["ordinal"]]
