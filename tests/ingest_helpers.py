"""Helpers shared by the ingestion tests: canonical events and a registered source."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def make_event(**overrides) -> dict:
    """A valid canonical tools/call event with a unique id; overrides replace fields."""
    event = {
        "id": f"evt-{uuid.uuid4()}",
        "time": iso(datetime.now(UTC) - timedelta(seconds=5)),
        "type": "mcp.request",
        "actor": {
            "id": "00u-alice",
            "type": "human",
            "idp": "https://idp.example.com",
            "email": "alice@example.com",
            "name": "Alice",
        },
        "client": {
            "id": "https://agent.example.com/client.json",
            "name": "Agent",
            "version": "1.2",
        },
        "server": {
            "name": "io.github.acme/reports",
            "url": "https://mcp.acme.example/mcp",
            "version": "0.9.0",
        },
        "session_id": "sess-1",
        "protocol_version": "2025-11-25",
        "method": "tools/call",
        "tool": "export_report",
        "outcome": "success",
        "duration_ms": 42,
        "attributes": {"region": "eu"},
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}
