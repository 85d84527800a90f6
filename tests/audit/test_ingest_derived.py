"""Derived state from a batch: inventory upserts, task lifecycles in both revisions, rollups."""

from datetime import UTC, datetime, timedelta

import pytest

from audit import queries
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from inventory.models import (
    Client,
    Flag,
    Grant,
    Identity,
    Server,
    ServerRemote,
    Task,
    TaskStatusChange,
)
from tests.ingest_helpers import iso, make_event

pytestmark = pytest.mark.django_db
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def at(seconds: int) -> str:
    return iso(T0 + timedelta(seconds=seconds))


@pytest.fixture
def source():
    return create_source(name="gw-derived")[0]


def test_identities_clients_servers_and_remotes_are_upserted_with_first_and_last_seen(source):
    ingest_events(source=source, events=[make_event(time=at(10)), make_event(time=at(50))])
    ingest_events(
        source=source,
        events=[
            make_event(
                time=at(5),
                client={"id": "m2m-bot"},
                server={"url": "https://tools.example:8443/mcp"},
            )
        ],
    )
    alice = Identity.objects.get(issuer="https://idp.example.com", subject="00u-alice")
    assert (alice.first_seen, alice.last_seen) == (
        T0 + timedelta(seconds=5),
        T0 + timedelta(seconds=50),
    )
    assert alice.email == "alice@example.com" and alice.seen_from == "events"
    assert (
        Client.objects.get(client_id="https://agent.example.com/client.json").registration == "cimd"
    )
    assert Client.objects.get(client_id="m2m-bot").registration == "pre_registered"
    server = Server.objects.get(name="io.github.acme/reports")
    assert server.registry_status == "unlisted"
    assert ServerRemote.objects.get(server=server).url == "https://mcp.acme.example/mcp"
    assert Server.objects.filter(name="tools.example:8443").exists()  # named after its host


def test_a_grant_in_an_event_updates_its_last_used_time(source):
    client = Client.objects.create(client_id="c1", first_seen=T0, last_seen=T0)
    grant = Grant.objects.create(
        client=client,
        issuer="https://idp.example.com",
        external_id="g-1",
        first_seen=T0,
        last_seen=T0,
    )
    ingest_events(
        source=source,
        events=[
            make_event(time=at(30), grant={"id": "g-1"}),
            make_event(time=at(20), grant={"id": "g-1"}),
        ],
    )
    grant.refresh_from_db()
    assert grant.last_used_at == T0 + timedelta(seconds=30)


def task_event(seconds, method, task=None, **kw):
    return make_event(time=at(seconds), method=method, task=task, **kw)


def test_a_task_is_created_by_a_task_augmented_call_and_advanced_with_history(source):
    ingest_events(
        source=source,
        events=[
            task_event(
                1,
                "tools/call",
                {"id": "t-1", "status": "working", "ttl": 60000, "poll_interval": 5000},
            ),
            task_event(
                2,
                "tasks/get",
                {"id": "t-1", "status": "input_required", "status_message": "Needs approval"},
            ),
        ],
    )
    ingest_events(
        source=source, events=[task_event(3, "tasks/get", {"id": "t-1", "status": "completed"})]
    )
    task = Task.objects.get(task_id="t-1")
    assert task.status == "completed" and task.ttl_ms == 60000 and task.poll_interval_ms == 5000
    assert task.method == "tools/call" and task.tool_name == "export_report"
    assert task.server.name == "io.github.acme/reports" and task.identity.subject == "00u-alice"
    history = list(task.status_history.values_list("from_status", "to_status", "is_legal"))
    assert history == [
        ("", "working", True),
        ("working", "input_required", True),
        ("input_required", "completed", True),
    ]


def test_raw_2025_11_25_shapes_in_attributes_drive_tasks(source):
    ingest_events(
        source=source,
        events=[
            task_event(
                1,
                "tools/call",
                attributes={
                    "params": {"name": "export_report", "task": {"ttl": 3600000}},
                    "result": {
                        "task": {
                            "taskId": "t-raw",
                            "status": "working",
                            "ttl": None,
                            "createdAt": at(1),
                            "lastUpdatedAt": at(1),
                            "pollInterval": 5000,
                        }
                    },
                },
            ),
            task_event(
                2,
                "notifications/tasks/status",
                type="mcp.notification",
                attributes={
                    "params": {
                        "taskId": "t-raw",
                        "status": "input_required",
                        "createdAt": at(1),
                        "lastUpdatedAt": at(2),
                        "ttl": None,
                    }
                },
            ),
            task_event(
                3,
                "tasks/list",
                attributes={
                    "result": {
                        "tasks": [
                            {
                                "taskId": "t-raw",
                                "status": "working",
                                "createdAt": at(1),
                                "lastUpdatedAt": at(3),
                                "ttl": None,
                            }
                        ]
                    }
                },
            ),
            task_event(
                4,
                "tasks/cancel",
                attributes={
                    "params": {"taskId": "t-raw"},
                    "result": {
                        "taskId": "t-raw",
                        "status": "cancelled",
                        "statusMessage": "Cancelled by user",
                        "createdAt": at(1),
                        "lastUpdatedAt": at(4),
                        "ttl": None,
                    },
                },
            ),
        ],
    )
    task = Task.objects.get(task_id="t-raw")
    assert task.status == "cancelled" and task.ttl_unlimited and task.requested_ttl_ms == 3600000
    assert task.status_message == "Cancelled by user"
    assert list(task.status_history.values_list("to_status", flat=True)) == [
        "working",
        "input_required",
        "working",
        "cancelled",
    ]


def test_raw_2026_07_28_shapes_drive_tasks(source):
    ingest_events(
        source=source,
        events=[
            task_event(
                1,
                "tools/call",
                protocol_version="2026-07-28",
                attributes={
                    "result": {
                        "resultType": "task",
                        "task": {
                            "taskId": "t-26",
                            "status": "working",
                            "ttlMs": 600000,
                            "pollIntervalMs": 2000,
                        },
                    }
                },
            ),
            task_event(
                2,
                "notifications/tasks",
                protocol_version="2026-07-28",
                attributes={"params": {"taskId": "t-26", "status": "completed", "ttlMs": 600000}},
            ),
        ],
    )
    task = Task.objects.get(task_id="t-26")
    assert (task.status, task.ttl_ms, task.poll_interval_ms) == ("completed", 600000, 2000)
    assert task.protocol_version == "2026-07-28"


def test_leaving_a_terminal_state_is_kept_flagged_and_never_applied(source):
    ingest_events(
        source=source,
        events=[
            task_event(1, "tools/call", {"id": "t-x", "status": "working"}),
            task_event(2, "tasks/get", {"id": "t-x", "status": "completed"}),
        ],
    )
    ingest_events(
        source=source,
        events=[task_event(3, "notifications/tasks/status", {"id": "t-x", "status": "working"})],
    )
    task = Task.objects.get(task_id="t-x")
    assert task.status == "completed" and task.flagged
    illegal = TaskStatusChange.objects.get(task=task, is_legal=False)
    assert (illegal.from_status, illegal.to_status) == ("completed", "working")
    flag = Flag.objects.get(kind="task.illegal_transition", object_id=str(task.pk))
    assert flag.severity == "high" and flag.resolved_at is None


def test_a_failed_tasks_call_reports_no_status(source):
    ingest_events(
        source=source,
        events=[
            task_event(1, "tools/call", {"id": "t-f", "status": "working"}),
            task_event(2, "tasks/cancel", {"id": "t-f", "status": "cancelled"}, outcome="error"),
        ],
    )
    assert Task.objects.get(task_id="t-f").status == "working"


def test_rollups_count_each_event_once_even_when_retried(source):
    events = [
        make_event(time=at(1)),
        make_event(time=at(2), outcome="error"),
        make_event(time=at(3), tool="search"),
    ]
    ingest_events(source=source, events=events)
    ingest_events(source=source, events=events)  # a retry: all duplicates
    since = T0 - timedelta(hours=1)
    assert sum(row["events"] for row in queries.events_per_hour(since)) == 3
    assert queries.events_per_hour(since)[0]["errors"] == 1
    assert queries.top_tools(since)[0] == {
        "server_name": "io.github.acme/reports",
        "tool": "export_report",
        "events": 2,
    }
    assert {(r["outcome"], r["events"]) for r in queries.outcomes_by_server(since)} == {
        ("success", 2),
        ("error", 1),
    }
    assert queries.top_identities(since)[0]["events"] == 3
    assert queries.events_by_source(since) == [
        {"source_id": source.pk, "source_name": "gw-derived", "events": 3}
    ]
