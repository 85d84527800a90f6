"""POST /api/v1/events with hostile events beside valid ones, on both web servers.

Each hostile event is rejected alone with an error naming its problem, the valid events beside
it are stored, the answer is never a 5xx and always says what was stored (issue #10). Every
test runs against pytest-django's live server (Django's handler) and against Granian, the
production server, whose requests take audit/wsgi_fast.py's path.
"""

from __future__ import annotations

import json

import httpx
import orjson
import pytest

from audit.models import AuditEvent
from audit.services.sources import create_source
from inventory.models import Task
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(db):
    return create_source(name="gw-hostile")[1]


def post(base_url, token, body, *, content_type="application/json"):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(
        f"{base_url}/api/v1/events",
        content=data,
        timeout=60,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )


def stored_ids() -> set[str]:
    return set(AuditEvent.objects.values_list("event_id", flat=True))


def assert_rejected_alone(response, good: list[dict], index: int) -> dict:
    """200, every good event stored, only the event at `index` rejected; its errors."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == len(good), body
    assert [r["index"] for r in body["rejected"]] == [index], body
    assert {e["id"] for e in good} <= stored_ids()
    return body["rejected"][0]["errors"]


@pytest.mark.parametrize("attributes", [{}, {"result": {"task": {"taskId": "t-1"}}}])
@pytest.mark.parametrize("method", [["x"], {}, 5, True, {"a": "tasks/get"}])
def test_a_method_that_is_not_a_string_is_rejected_alone_and_the_rest_is_stored(
    base_url, token, method, attributes
):
    bad = make_event(method=method, attributes=attributes)
    good = [make_event(), make_event(attributes={})]
    response = post(base_url, token, [good[0], bad, good[1]])
    assert assert_rejected_alone(response, good, 1) == {"method": "must be a string"}


@pytest.mark.parametrize("status", [{"s": "working"}, ["working"], 5, True])
def test_a_task_status_that_is_not_a_string_is_rejected_alone_by_name(base_url, token, status):
    bad = make_event(task={"id": "task-odd", "status": status})
    good = [make_event(), make_event(task={"id": "task-fine", "status": "working"})]
    errors = assert_rejected_alone(post(base_url, token, [bad, *good]), good, 0)
    assert list(errors) == ["task.status"] and "must be one of" in errors["task.status"]
    assert list(Task.objects.values_list("task_id", flat=True)) == ["task-fine"]


@pytest.mark.parametrize("status", [{"s": "working"}, ["working"]])
def test_an_odd_task_status_in_forwarded_attributes_is_ignored_and_the_event_stored(
    base_url, token, status
):
    """Forwarded JSON-RPC shapes in attributes are best effort: an odd status is no status."""
    odd = make_event(
        method="tasks/get",
        outcome="success",
        attributes={"result": {"taskId": "task-raw", "status": status}},
    )
    created = make_event(attributes={"result": {"task": {"taskId": "task-new", "status": status}}})
    response = post(base_url, token, [odd, created])
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert Task.objects.get(task_id="task-new").status == "working"  # a new task starts working


def test_a_lone_surrogate_in_an_id_is_rejected_alone_and_the_answer_says_what_was_stored(
    base_url, token
):
    """The rejected id is echoed without the character no JSON answer can carry, so the
    answer can be written; a retry gets the same answer (the good event is a duplicate)."""
    good = make_event()
    bad = orjson.dumps(make_event(id="x-PLACEHOLDER")).replace(b"PLACEHOLDER", b"\\ud800")
    body = b"[" + orjson.dumps(good) + b"," + bad + b"]"
    first = post(base_url, token, body)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 1
    assert first.json()["rejected"][0]["id"] == "x-\ufffd"
    assert "event" in first.json()["rejected"][0]["errors"]
    again = post(base_url, token, body)
    assert again.status_code == 200, again.text
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 1)
    assert stored_ids() == {good["id"]}


HUGE_INT = b"9" * 5000  # beyond Python's 4,300-digit limit for reading an integer


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("where", ["attributes", "duration_ms", "unknown field", "actor"])
def test_an_integer_of_more_than_4300_digits_rejects_its_event_alone(base_url, token, where):
    good = [make_event(), make_event()]
    bad = make_event(attributes={"n": 0}, duration_ms=0, vendor=0, actor={"id": "a", "x": 0})
    field = {
        "attributes": b'"n":0',
        "duration_ms": b'"duration_ms":0',
        "unknown field": b'"vendor":0',
        "actor": b'"x":0',
    }[where]
    text = orjson.dumps(bad).replace(field, field[:-1] + HUGE_INT)
    response = post(
        base_url,
        token,
        b"[" + b",".join([orjson.dumps(good[0]), text, orjson.dumps(good[1])]) + b"]",
    )
    errors = assert_rejected_alone(response, good, 1)
    assert list(errors) == ["event"] and "4300 digits" in errors["event"], errors


@pytest.mark.parametrize("wrapped", [False, True])
@pytest.mark.parametrize("depth", [300, 1_000, 10_000])
def test_an_event_nested_thousands_of_levels_deep_is_rejected_alone(
    base_url, token, depth, wrapped
):
    good = [make_event(), make_event()]
    deep = orjson.dumps(make_event(attributes={"d": 0})).replace(b'"d":0', b'"d":' + _nested(depth))
    bare = b"[" * depth + b"]" * depth  # an "event" that is only nesting
    events = b",".join([orjson.dumps(good[0]), deep, orjson.dumps(good[1]), bare])
    body = b'{"events":[' + events + b"]}" if wrapped else b"[" + events + b"]"
    response = post(base_url, token, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 2, result
    assert [r["index"] for r in result["rejected"]] == [1, 3]
    assert "nested" in result["rejected"][0]["errors"]["event"], result
    assert list(result["rejected"][1]["errors"]) == ["event"], result  # nested, or not an object
    assert stored_ids() == {e["id"] for e in good}


def test_hard_to_read_ndjson_lines_are_rejected_alone(base_url, token):
    good = [make_event(), make_event()]
    huge = orjson.dumps(make_event(attributes={"n": 0})).replace(b'"n":0', b'"n":' + HUGE_INT)
    deep = orjson.dumps(make_event(attributes={"d": 0})).replace(
        b'"d":0', b'"d":' + _nested(10_000)
    )
    lines = [orjson.dumps(good[0]), huge, deep, orjson.dumps(good[1])]
    response = post(base_url, token, b"\n".join(lines), content_type="application/x-ndjson")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 2 and [r["index"] for r in result["rejected"]] == [1, 2], result
    assert stored_ids() == {e["id"] for e in good}


@pytest.mark.parametrize(
    "body",
    [
        b"[" + b"[" * 10_000 + b"]" * 9_999,  # truncated: not JSON at all
        b'[{"id": "a"} {"id": "b"}]',
        b"[" + b"[" * 10_000 + b"01" + b"]" * 10_001,
        b'[{"events": 1}, tru]',
    ],
)
def test_a_body_that_is_not_json_is_still_a_400_however_deep(base_url, token, body):
    response = post(base_url, token, body)
    assert response.status_code == 400, response.text
    assert "JSON" in response.json()["detail"]
    assert not AuditEvent.objects.exists()


def test_a_server_host_too_long_to_name_a_server_is_rejected_by_name(base_url, token):
    """A server known only by URL is named after its host, and a server name has at most 300
    characters: a longer host rejects its event (it failed the whole batch in the database)."""
    bad = make_event(server={"url": "https://" + "h" * 320 + ".example/mcp"})
    for path in ({}, {"vendor": "x"}):  # the compiled fast path, then the Python path
        good = [make_event()]
        errors = assert_rejected_alone(post(base_url, token, [{**bad, **path}, *good]), good, 0)
        assert list(errors) == ["server.url"] and "300" in errors["server.url"]


def test_a_long_protocol_version_on_a_task_event_does_not_fail_the_batch(base_url, token):
    """A task records at most 20 characters of protocol version; the event keeps all 50."""
    version = "2026-07-28-draft-".ljust(50, "x")
    event = make_event(protocol_version=version, task={"id": "task-pv", "status": "working"})
    response = post(base_url, token, [event, make_event()])
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}, response.text
    assert Task.objects.get(task_id="task-pv").protocol_version == version[:20]
    stored = AuditEvent.objects.get(event_id=event["id"])
    assert json.loads(json.dumps(stored.payload))["protocol_version"] == version
