"""Demo protocol traffic (issue 15): what a gateway forwards of a few sessions' handshakes, URL
elicitations and sampling, so the protocol panels, the elicitation list, the overview charts and
each protocol flag have something to show. Deterministic from the seed, like audit/demo.py."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from inventory.models import Grant

# (revision offered, revision negotiated): mostly current, a few sessions on older revisions.
REVISIONS = [("2025-11-25", "2025-11-25")] * 6 + [
    ("2025-11-25", "2025-06-18"),
    ("2025-06-18", "2025-06-18"),
    ("2025-03-26", "2025-03-26"),
]
CLIENT_CAPABILITIES = [
    {
        "roots": {"listChanged": True},
        "sampling": {"tools": {}},
        "elicitation": {"form": {}, "url": {}},
        "extensions": {"io.modelcontextprotocol/ui": {}},
    },
    {"roots": {}, "elicitation": {}},
    {
        "sampling": {},
        "elicitation": {"form": {}, "url": {}},
        "tasks": {"requests": {"elicitation": {"create": {}}}},
    },
]
SERVER_CAPABILITIES = [
    {"tools": {"listChanged": True}, "logging": {}},
    {
        "tools": {},
        "resources": {"subscribe": True},
        "prompts": {},
        "completions": {},
        "extensions": {"io.modelcontextprotocol/ui": {}},
    },
]
PAIRS = 12


def _base(grant: Grant, seed: int, number: int, at: datetime, session: str) -> dict:
    remotes = [remote.url for remote in grant.server.remotes.all()]
    return {
        "id": f"demo-{seed}-p{number:04d}",
        "time": at.isoformat(),
        "type": "mcp.request",
        "actor": {"id": grant.subject.subject, "idp": grant.subject.issuer},
        "client": {"id": grant.client.client_id},
        "server": {"name": grant.server.name, **({"url": remotes[0]} if remotes else {})},
        "session_id": session,
        "protocol_version": "2025-11-25",
        "outcome": "success",
    }


def _session(rng, grant, seed, number, at, index) -> list[dict]:
    """An initialize, and what the session's server then did (by the pair's place)."""
    session = f"demo-proto-{grant.pk}-{index}"
    offered, negotiated = rng.choice(REVISIONS)
    first = _base(grant, seed, number, at, session)
    first.update(
        method="initialize",
        protocol_version=negotiated,
        attributes={
            "params": {
                "protocolVersion": offered,
                "capabilities": CLIENT_CAPABILITIES[grant.client_id % len(CLIENT_CAPABILITIES)],
                "clientInfo": {"name": grant.client.name or "agent", "version": "1.4.2"},
            },
            "result": {
                "protocolVersion": negotiated,
                "capabilities": SERVER_CAPABILITIES[grant.server_id % len(SERVER_CAPABILITIES)],
                "serverInfo": {"name": grant.server.name.split("/")[-1], "version": "1.0.0"},
            },
        },
    )
    events = [first]
    later = _base(grant, seed, number + 1, at + timedelta(seconds=30), session)
    if index % 4 == 0:  # a URL elicitation to a partner's login page, then its completion
        eid = f"demo-e-{grant.pk}-{index}"
        url = (
            "https://login.partner.example/connect?state=demo"
            if index % 8
            else "http://phish.example/login"
        )
        later.update(
            method="elicitation/create",
            attributes={
                "params": {
                    "mode": "url",
                    "elicitationId": eid,
                    "url": url,
                    "message": "Connect your account",
                },
                "result": {"action": "accept"},
            },
        )
        done = _base(grant, seed, number + 2, at + timedelta(seconds=90), session)
        done.update(
            type="mcp.notification",
            method="notifications/elicitation/complete",
            attributes={"params": {"elicitationId": eid}},
        )
        events += [later, done]
    elif index % 4 == 1:  # a tool that needs an authorization first: the -32042 error
        later.update(
            method="tools/call",
            tool="sync",
            outcome="error",
            error={
                "code": -32042,
                "message": "Authorization required",
                "data": {
                    "elicitations": [
                        {
                            "mode": "url",
                            "elicitationId": f"demo-r-{grant.pk}",
                            "url": "https://auth.vendor.example/oauth?x=1",
                            "message": "Authorize the vendor",
                        }
                    ]
                },
            },
        )
        events.append(later)
    elif index % 4 == 2:  # the server drives the client's model, with tools
        later.update(
            method="sampling/createMessage",
            attributes={
                "params": {
                    "messages": [],
                    "maxTokens": 400,
                    "tools": [{"name": "query_db"}, {"name": "send_mail"}],
                    "toolChoice": {"mode": "auto"},
                }
            },
        )
        events.append(later)
    else:  # the client moved to 2026-07-28: no initialize, a server/discover and request _meta
        later.update(
            method="server/discover",
            protocol_version="2026-07-28",
            session_id=None,
            attributes={
                "params": {
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                        "io.modelcontextprotocol/clientCapabilities": {
                            "extensions": {"io.modelcontextprotocol/tasks": {}}
                        },
                    }
                },
                "result": {
                    "supportedVersions": ["2026-07-28", "2025-11-25"],
                    "capabilities": {
                        "tools": {},
                        "extensions": {"io.modelcontextprotocol/tasks": {}},
                    },
                    "serverInfo": {"name": "next", "version": "2.0.0"},
                },
            },
        )
        later = {k: v for k, v in later.items() if v is not None}
        events.append(later)
    return events


def protocol_events(rng: random.Random, seed: int, anchor: datetime, grants: list) -> list[dict]:
    """A dozen sessions' protocol traffic over distinct (client, server) pairs of the grants."""
    pairs, seen = [], set()
    for grant in grants:
        if (grant.client_id, grant.server_id) not in seen:
            seen.add((grant.client_id, grant.server_id))
            pairs.append(grant)
    events = []
    for index, grant in enumerate(rng.sample(pairs, min(PAIRS, len(pairs)))):
        at = anchor - timedelta(seconds=rng.randint(3600, 6 * 86400))
        events += _session(rng, grant, seed, len(events), at, index)
    return events
