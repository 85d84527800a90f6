"""The overview's activity numbers and charts come from the audit rollups."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.services.ingest import ingest_events
from audit.services.sources import create_source

pytestmark = pytest.mark.django_db


def _event(number: int, *, outcome: str, tool: str, minutes_ago: int) -> dict:
    return {
        "id": f"ov-{number}",
        "time": (timezone.now() - timedelta(minutes=minutes_ago)).isoformat(),
        "type": "mcp.request",
        "method": "tools/call",
        "tool": tool,
        "outcome": outcome,
        "server": {"name": "io.github.acme/crm"},
        "actor": {"id": "u-1", "idp": "https://idp.example"},
    }


def test_the_overview_counts_recent_events_and_errors_and_names_the_busiest_tool(viewer_client):
    source, _token = create_source(name="gw-overview")
    events = [_event(i, outcome="success", tool="lookup_customer", minutes_ago=i) for i in range(5)]
    events += [
        _event(10, outcome="error", tool="delete_customer", minutes_ago=30),
        _event(11, outcome="denied", tool="delete_customer", minutes_ago=31),
    ]
    events.append(
        _event(12, outcome="success", tool="old_tool", minutes_ago=60 * 24 * 8)
    )  # too old
    assert ingest_events(source=source, events=events).accepted == 8

    page = viewer_client.get("/")
    assert page.status_code == 200
    activity = page.context["activity"]
    assert (activity["events"], activity["errors"]) == (7, 2)
    assert activity["top_tools"][0] == {
        "server_name": "io.github.acme/crm",
        "tool": "lookup_customer",
        "events": 5,
    }
    assert "old_tool" not in page.content.decode()
    assert "Events per hour" in page.content.decode()


def test_the_overview_explains_how_to_send_events_when_there_are_none(viewer_client):
    body = viewer_client.get("/").content.decode()
    assert "No events received yet" in body
