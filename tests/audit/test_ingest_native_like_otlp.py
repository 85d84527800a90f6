"""POST /api/v1/events decides as the OTLP ingest does (issue #10 items 24-26, native path).

A machine-to-machine call (a client id, no user) is inventoried under a service identity; a
server reported only by URL joins the inventory server that has that remote URL; a number beyond
a double's range is stored as sent. Each test sends the same event down the compiled fast path
(a plain event) and the Python path (an unknown top-level field, a task, an NDJSON line), on
pytest-django's live server and on Granian, the production server.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import orjson
import pytest
from django.db import connection

from audit.models import AuditEvent
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from inventory.models import Identity, Server, Task
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db(transaction=True)

REMOTE = "http://127.0.0.1:8931/mcp"
PYTHON_PATH = {"vendor": "x"}  # an unknown top-level field: the fast path hands the event over


@pytest.fixture
def token(db):
    return create_source(name="gw-native")[1]


def post(base_url, token, body, *, content_type="application/json"):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    response = httpx.post(
        f"{base_url}/api/v1/events",
        content=data,
        timeout=60,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    return response.json()


def stored_payload(event_id: str) -> str:
    """The stored event's JSON text, without the spaces PostgreSQL's json output may add."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload::text FROM audit_event WHERE event_id = %s", [event_id])
        return cursor.fetchone()[0].replace(" ", "")


# --- 1. machine to machine: the client is the principal -----------------------------------------


def test_a_client_id_without_a_user_is_inventoried_as_a_service_identity_on_both_paths(
    base_url, token
):
    client = {"id": "svc-reporting", "name": "Sync"}
    plain = make_event(actor=None, client=client)
    python = make_event(actor=None, client=client, **PYTHON_PATH)
    task = make_event(actor=None, client=client, task={"id": "task-m2m", "status": "working"})
    with_user = make_event(client={"id": "svc-other"})
    assert post(base_url, token, [plain, python, task, with_user])["accepted"] == 4

    service = Identity.objects.get(subject="svc-reporting")
    assert (service.kind, service.issuer, service.display_name) == ("service", "", "Sync")
    stored = AuditEvent.objects.filter(event_id__in=[plain["id"], python["id"], task["id"]])
    assert set(stored.values_list("actor_subject", flat=True)) == {"svc-reporting"}
    assert Task.objects.get(task_id="task-m2m").identity == service
    # A user acted: the client gets no identity of its own.
    assert not Identity.objects.filter(subject="svc-other").exists()
    assert AuditEvent.objects.get(event_id=with_user["id"]).actor_subject == "00u-alice"
    # The stored record is the event as sent: no actor is written into it.
    assert '"actor"' not in stored_payload(plain["id"])
    assert '"actor"' not in stored_payload(python["id"])


# --- 2. a server known only by URL joins the server that has that remote -------------------------


def _gateway_reported(name: str, url: str) -> None:
    gateway, _ = create_source(name=f"edge-{name}")
    ingest_events(
        source=gateway,
        events=[
            {
                "id": f"gw-{name}",
                "time": datetime.now(UTC).isoformat(),
                "type": "mcp.request",
                "method": "initialize",
                "server": {"name": name, "url": url},
            }
        ],
    )


def test_a_server_known_only_by_url_joins_the_server_that_has_that_remote_on_both_paths(
    base_url, token
):
    _gateway_reported("weather-mcp", REMOTE)
    plain = make_event(server={"url": REMOTE})
    slash = make_event(server={"url": "HTTP://127.0.0.1:8931/mcp/"}, **PYTHON_PATH)
    task = make_event(server={"url": REMOTE}, task={"id": "task-url", "status": "working"})
    line = make_event(server={"url": REMOTE})
    assert post(base_url, token, [plain, slash, task])["accepted"] == 3
    assert (
        post(base_url, token, orjson.dumps(line) + b"\n", content_type="application/x-ndjson")[
            "accepted"
        ]
        == 1
    )

    names = AuditEvent.objects.filter(event_id__in=[e["id"] for e in (plain, slash, task, line)])
    assert set(names.values_list("server_name", flat=True)) == {"weather-mcp"}
    assert list(Server.objects.values_list("name", flat=True)) == ["weather-mcp"]
    assert Task.objects.get(task_id="task-url").server.name == "weather-mcp"


def test_a_server_url_named_in_the_same_batch_joins_that_server(base_url, token):
    named = make_event(server={"name": "billing-mcp", "url": "https://billing.example/mcp"})
    bare = make_event(server={"url": "https://billing.example:443/mcp"})
    assert (
        post(base_url, token, [named, bare, {**bare, "id": "b2", **PYTHON_PATH}])["accepted"] == 3
    )
    assert set(AuditEvent.objects.values_list("server_name", flat=True)) == {"billing-mcp"}
    assert list(Server.objects.values_list("name", flat=True)) == ["billing-mcp"]


def test_a_server_url_nobody_knows_or_several_servers_share_is_named_after_its_host(
    base_url, token
):
    _gateway_reported("one", "https://shared.example/mcp")
    _gateway_reported("two", "https://shared.example/mcp")
    unknown = make_event(server={"url": "http://10.0.0.9:8931/mcp"})
    shared = make_event(server={"url": "https://shared.example/mcp"}, **PYTHON_PATH)
    assert post(base_url, token, [unknown, shared])["accepted"] == 2
    assert AuditEvent.objects.get(event_id=unknown["id"]).server_name == "10.0.0.9:8931"
    assert AuditEvent.objects.get(event_id=shared["id"]).server_name == "shared.example"


# --- 3. a number beyond a double's range is stored as sent -------------------------------------

HUGE_INT = b"123456789012345678901234567890"  # beyond 64 bits
BIG = {"big": b"1e400", "neg": b"-1E+400", "tiny": b"1e-400", "long": b"2.5e-999"}


def _with_big_numbers(event: dict) -> bytes:
    text = orjson.dumps(event)
    for key, number in BIG.items():
        text = text.replace(f'"{key}":0'.encode(), f'"{key}":'.encode() + number)
    return text


def _assert_stored_as_sent(event: dict) -> None:
    payload = stored_payload(event["id"])
    for key, number in BIG.items():
        assert f'"{key}":{number.decode()}' in payload, payload


def test_numbers_beyond_a_double_are_stored_as_sent_on_every_path(base_url, token):
    attributes = {key: 0 for key in BIG}
    plain = make_event(attributes=attributes)
    python = make_event(attributes=attributes, **PYTHON_PATH)
    task = make_event(attributes=attributes, task={"id": "task-big", "status": "working"})
    secret = make_event(
        attributes={**attributes, "headers": {"Authorization": "Bearer abcdefghijk"}}
    )
    huge_int = make_event(attributes={**attributes, "n": 0})  # the stdlib-written path
    events = (plain, python, task, secret, huge_int)
    body = b"[" + b",".join(_with_big_numbers(e) for e in events) + b"]"
    body = body.replace(b'"n":0', b'"n":' + HUGE_INT)
    assert post(base_url, token, body) == {"accepted": 5, "duplicates": 0, "rejected": []}
    for event in events:
        _assert_stored_as_sent(event)
    assert "abcdefghijk" not in stored_payload(secret["id"])
    assert '"n":' + HUGE_INT.decode() in stored_payload(huge_int["id"])

    line = make_event(attributes=attributes, **PYTHON_PATH)
    result = post(base_url, token, _with_big_numbers(line), content_type="application/x-ndjson")
    assert result["accepted"] == 1, result
    _assert_stored_as_sent(line)


def test_a_duration_beyond_a_double_is_rejected_by_name_and_one_below_is_kept_as_sent(
    base_url, token
):
    for path in ({}, PYTHON_PATH):
        over, under = make_event(duration_ms=0, **path), make_event(duration_ms=0, **path)
        body = (
            b"["
            + orjson.dumps(over).replace(b'"duration_ms":0', b'"duration_ms":1e400')
            + b","
            + orjson.dumps(under).replace(b'"duration_ms":0', b'"duration_ms":1e-400')
            + b"]"
        )
        result = post(base_url, token, body)
        assert result["accepted"] == 1, result
        assert [(r["index"], list(r["errors"])) for r in result["rejected"]] == [
            (0, ["duration_ms"])
        ]
        assert '"duration_ms":1e-400' in stored_payload(under["id"])
        assert AuditEvent.objects.get(event_id=under["id"]).duration_ms == 0
