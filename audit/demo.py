"""Demo audit events: a week of tool calls by the demo grants, ingested through the real path.

Event ids derive from the seed, so a second run sends only duplicates: the ingest core stores
nothing twice and derives nothing from them, and the demo stays unchanged.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from audit.demo_protocol import protocol_events
from audit.models import EventSource
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from inventory.models import Grant

DEMO_SOURCE = "demo-gateway"
BATCH = 1000
OUTCOMES = ["success"] * 90 + ["error"] * 7 + ["denied"] * 3
METHODS = ["tools/call"] * 8 + ["tools/list", "resources/read"]


def _demo_source() -> EventSource:
    source = EventSource.objects.filter(name=DEMO_SOURCE).first()
    if source is None:
        # The token is thrown away: an Admin rotates it to send events as this source.
        source, _token = create_source(name=DEMO_SOURCE, actor=None)
    return source


def _grant_pool() -> list[Grant]:
    return list(
        Grant.objects.filter(subject__isnull=False, server__isnull=False)
        .select_related("subject", "client", "server")
        .prefetch_related("server__tools", "server__remotes")
        .order_by("id")[:600]
    )


def _event(rng: random.Random, number: int, seed: int, at: datetime, grant: Grant) -> dict:
    subject, client, server = grant.subject, grant.client, grant.server
    tools = [tool.name for tool in server.tools.all()] or ["search"]
    remotes = [remote.url for remote in server.remotes.all()]
    method = rng.choice(METHODS)
    outcome = rng.choice(OUTCOMES)
    event = {
        "id": f"demo-{seed}-{number:06d}",
        "time": at.isoformat(),
        "type": "mcp.request",
        "actor": {
            "id": subject.subject,
            "type": subject.kind,
            "idp": subject.issuer,
            "email": subject.email or None,
            "name": subject.display_name or None,
        },
        "client": {"id": client.client_id, "name": client.name or None},
        "server": {"name": server.name, **({"url": remotes[0]} if remotes else {})},
        "session_id": f"demo-session-{grant.pk}-{at:%Y%m%d}",
        "protocol_version": "2025-11-25",
        "method": method,
        "grant": {
            "id": grant.external_id,
            "type": grant.grant_type,
            "scopes": grant.scopes,
            "issuer": grant.issuer,
        },
        "outcome": outcome,
        "duration_ms": round(rng.lognormvariate(4.5, 0.8), 1),
    }
    if method == "tools/call":
        event["tool"] = rng.choice(tools)
    if outcome == "error":
        event["error"] = {"code": -32603, "message": "upstream timed out"}
    elif outcome == "denied":
        event["error"] = {"code": 403, "message": "insufficient_scope"}
    return _without_nones(event)


def _without_nones(value):
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    return value


def seed_demo_events(*, seed: int, scale: float, anchor: datetime) -> int:
    """Ingest ~3,000 x scale events spread over the week before `anchor`, and a dozen sessions'
    protocol traffic (audit/demo_protocol.py); returns how many were new."""
    rng = random.Random(seed * 7919)
    grants = _grant_pool()
    if not grants:
        return 0
    source = _demo_source()
    count = max(1, int(3000 * scale))
    events = []
    for number in range(count):
        at = anchor - timedelta(seconds=rng.randint(60, 7 * 86400))
        grant = rng.choice(grants)
        # Grants are used while they hold: one event in 50 may use one already revoked, so the
        # demo shows a few "used after revocation" flags, not hundreds.
        for _retry in range(10):
            if not (grant.revoked_at and grant.revoked_at < at and number % 50):
                break
            grant = rng.choice(grants)
        events.append(_event(rng, number, seed, at, grant))
    events += protocol_events(rng, seed, anchor, grants)
    events.sort(key=lambda event: event["time"])
    accepted = 0
    for start in range(0, len(events), BATCH):
        accepted += ingest_events(source=source, events=events[start : start + BATCH]).accepted
    return accepted
