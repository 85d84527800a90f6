"""The compiled fast path (audit/services/fast_validation.py) accepts only what the Python
checks accept, and builds the same stage row for it."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from audit.services import fast_validation
from audit.services.ingest import current_limits
from audit.services.validation import normalize_event
from tests.ingest_helpers import iso, make_event

NOW = datetime.now(UTC)

SAME_ROW = [
    make_event(),
    make_event(actor=None, client=None, server=None, session_id=None, tool=None, duration_ms=None),
    make_event(server={"url": "https://mcp.example.com:8443/mcp"}),  # named after its host
    make_event(actor={"id": "svc-1", "type": "service_account", "idp": "https://idp.example"}),
    make_event(actor={"id": "a", "type": "Agent", "extra": {"team": "x"}}, outcome="denied"),
    make_event(
        grant={
            "id": "g-1",
            "type": "device_code",
            "scopes": ["read", "write"],
            "expires_at": iso(NOW + timedelta(days=3)),
        }
    ),
    make_event(grant={"id": "g-2"}, actor={"id": "u", "idp": "https://issuer.example"}),
    make_event(error={"code": -32602, "message": "bad params"}, outcome="error"),
    make_event(error={"code": "E_RATE", "message": "slow down", "data": [1, 2]}),
    make_event(delegation=[{"id": "agent-1", "type": "agent"}, {"id": "user-9"}]),
    make_event(duration_ms=12.5, protocol_version="2026-07-28", method="resources/read"),
    make_event(duration_ms=0, attributes={"arguments": {"query": "Zürich café 東京", "n": [1, 2]}}),
    make_event(time=(NOW - timedelta(days=30)).isoformat(), session_id=""),
    make_event(attributes=None, outcome=None, type="session.start"),
    # machine to machine: the client becomes a service actor (none for an id too long for one)
    make_event(actor=None, client={"id": "svc-sync", "name": "Sync"}),
    make_event(actor={"idp": "https://idp.example", "type": "human"}, client={"id": "svc-2"}),
    make_event(actor=None, client={"id": "https://c.example/" + "x" * 400}),
]


@pytest.mark.parametrize("event", SAME_ROW, ids=range(len(SAME_ROW)))
def test_the_fast_path_builds_the_row_the_python_path_builds(event, settings):
    limits = current_limits()
    raw = orjson.dumps(event)
    fast = fast_validation.accept(raw, limits)
    assert fast is not None, "a plain valid event takes the fast path"
    fast_row = fast_validation.stage_row(fast, 7)
    slow_row, reports, errors = normalize_event(orjson.loads(raw), ordinal=7, limits=limits)
    assert errors is None and not reports
    assert fast_row[:-1] == slow_row[:-1]
    assert orjson.loads(fast_row[-1]) == orjson.loads(slow_row[-1])
    assert fast_row[-1] == raw.decode(), "the payload is stored as sent"


def _raw(event) -> bytes:
    return event if isinstance(event, bytes) else orjson.dumps(event)


PYTHON_PATH = {
    "unknown top-level field": make_event(region="eu"),
    "possible secret": make_event(attributes={"headers": {"Authorization": "Bearer abcdefgh1234"}}),
    "sensitive key": make_event(attributes={"password": "x"}),
    "secret spelled with an escape": orjson.dumps(make_event()).replace(
        b'"region":"eu"', b'"note":"\\u0042earer abcdefghijklmnop"'
    ),
    "url password behind escaped slashes": orjson.dumps(make_event()).replace(
        b'"region":"eu"', b'"db":"postgres:\\/\\/app:s3cret@db"'
    ),
    "NUL escape": orjson.dumps(make_event()).replace(b'"region":"eu"', b'"x":"a\\u0000b"'),
    "task object": make_event(task={"id": "t-1", "status": "working"}),
    "tasks/ method": make_event(method="tasks/get"),
    "task status notification": make_event(method="notifications/tasks/status"),
    "result with a task": make_event(attributes={"result": {"task": {"taskId": "t"}}}),
    "wrong type": make_event(tool=42),
    "too long": make_event(tool="t" * 301),
    "bad outcome": make_event(outcome="maybe"),
    "negative duration": make_event(duration_ms=-1),
    "boolean duration": make_event(duration_ms=True),
    "blank id": make_event(id="   "),
    "missing type": {k: v for k, v in make_event().items() if k != "type"},
    "time without offset": make_event(time="2026-11-30T10:00:00"),
    "time in the future": make_event(time=iso(NOW + timedelta(days=2))),
    "time too old": make_event(time=iso(NOW - timedelta(days=4000))),
    "server URL not http": make_event(server={"url": "ftp://x.example/mcp"}),
    "attributes not an object": make_event(attributes=["a"]),
    "actor not an object": make_event(actor="alice"),
    "boolean error code": make_event(error={"code": True}),
    "bad grant expiry": make_event(grant={"id": "g", "expires_at": "soon"}),
    "deep nesting": orjson.dumps(make_event()).replace(
        b'"region":"eu"', b'"deep":' + b"[" * 300 + b"]" * 300
    ),
    "not an object": b"[1, 2]",
    "not UTF-8 inside attributes": orjson.dumps(make_event()).replace(b'"eu"', b'"caf\xe9"'),
    "not UTF-8 in an unknown actor key": orjson.dumps(
        make_event(actor={"id": "a", "note": "x"})
    ).replace(b'"x"', b'"\xff"'),
}


@pytest.mark.parametrize("name", PYTHON_PATH)
def test_what_the_fast_path_is_not_sure_of_goes_to_the_python_path(name):
    assert fast_validation.accept(_raw(PYTHON_PATH[name]), current_limits()) is None


def test_an_oversize_event_goes_to_the_python_path(settings):
    settings.AUDIT_MAX_EVENT_BYTES = 1000
    event = make_event(attributes={"text": "x" * 2000})
    assert fast_validation.accept(orjson.dumps(event), current_limits()) is None


def test_with_custom_patterns_any_escape_goes_to_the_python_path(settings):
    from audit.services import redaction

    settings.AUDIT_REDACTION_EXTRA_PATTERNS = [r"EMP-\d{6}\s+ok"]
    redaction.reset_rules_cache()
    try:
        raw = orjson.dumps(make_event(attributes={"who": "EMP-123456\nok"}))
        assert fast_validation.accept(raw, current_limits()) is None
        plain = orjson.dumps(make_event())
        assert fast_validation.accept(plain, current_limits()) is not None
    finally:
        redaction.reset_rules_cache()


def test_split_reads_arrays_and_wrapped_batches_and_gives_up_on_anything_else():
    one, two = make_event(), make_event()
    assert fast_validation.split(orjson.dumps([one, two])) == [orjson.dumps(one), orjson.dumps(two)]
    assert fast_validation.split(orjson.dumps({"events": [one]})) == [orjson.dumps(one)]
    for body in (b"[{", b'{"events": 3}', b"3", b"[" * 5000 + b"]" * 5000, b"\xff\xfe"):
        assert fast_validation.split(body) is None
