"""Property: whatever events a batch holds beside them, valid events are stored exactly once.

Hypothesis generates hostile event structures (random JSON, valid events with random parts,
values no parser here reads) and mixes them with valid marker events; each body goes to the
native API (a JSON array, {"events": [...]} or NDJSON) and to the OTLP receivers (spans and log
records with random attributes) of the live server and of Granian (the production server), and
again as a client's retry. Every answer
is below 500 and every marker is stored exactly once (issue #10). Examples are bounded, so the
test stays a few seconds long.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.models import AuditEvent
from audit.services.sources import create_source
from tests.ingest_helpers import make_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

KEYS = [
    "id",
    "time",
    "type",
    "method",
    "tool",
    "task",
    "status",
    "taskId",
    "ttl",
    "ttlMs",
    "pollInterval",
    "statusMessage",
    "result",
    "params",
    "tasks",
    "attributes",
    "actor",
    "client",
    "server",
    "grant",
    "error",
    "delegation",
    "outcome",
    "duration_ms",
    "protocol_version",
    "session_id",
    "url",
    "name",
    "code",
    "scopes",
    "expires_at",
    "Authorization",
    "password",
    "resultType",
    "createdAt",
]
STRINGS = [
    "",
    " ",
    "tasks/get",
    "tasks/list",
    "tools/call",
    "notifications/tasks/status",
    "working",
    "completed",
    "success",
    "error",
    "human",
    "https://mcp.example/mcp",
    "https://" + "h" * 400 + ".example/",
    "ftp://x",
    "2026-11-30T09:00:00Z",
    "soon",
    "a\x00b",
    "x-\ud800",
    "\udfff",
    "Bearer abcdefghijklmnop",
    "\\u0042earer",
    "ñ✓😀",
    "user:pw@host",
    "x" * 5000,
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(STRINGS),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=4),
    ),
    max_leaves=16,
)
PATHS = [
    ("method",),
    ("task",),
    ("task", "status"),
    ("task", "id"),
    ("task", "ttl"),
    ("attributes",),
    ("attributes", "result"),
    ("attributes", "params"),
    ("attributes", "result", "task"),
    ("attributes", "result", "task", "status"),
    ("attributes", "result", "tasks"),
    ("server",),
    ("server", "url"),
    ("server", "name"),
    ("actor",),
    ("actor", "type"),
    ("client", "id"),
    ("time",),
    ("id",),
    ("type",),
    ("duration_ms",),
    ("delegation",),
    ("grant",),
    ("grant", "scopes"),
    ("grant", "expires_at"),
    ("error",),
    ("error", "code"),
    ("outcome",),
    ("protocol_version",),
    ("session_id",),
    ("vendor",),
]
# Valid JSON that no parser here reads as it stands.
RAW_TEXTS = [
    b"9" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"[" * 10_000 + b"]" * 10_000,
    b"1e400",
    b"-0",
    b'"\\ud800"',
    b"{}",
    b"[]",
    b"null",
]


def _set(event: dict, path: tuple, value) -> dict:
    node = event
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return event


@st.composite
def mutated_events(draw) -> dict:
    """A valid event with a few of its parts replaced by random JSON."""
    event = make_event(method=draw(st.sampled_from(["tools/call", "tasks/get", "tasks/list"])))
    for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3)):
        _set(event, path, draw(json_values))
    return event


def _text(value) -> bytes:
    """JSON text (UTF-8): a lone surrogate becomes a \\u escape, which is valid JSON."""
    try:
        return json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value).encode()


def _with_raw(event: dict, raw: bytes) -> bytes:
    return _text({**event, "attributes": {"v": "RAW"}}).replace(b'"RAW"', raw)


hostile_texts = st.one_of(
    json_values.map(_text),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6).map(_text),
    mutated_events().map(_text),
    st.sampled_from(RAW_TEXTS),
    st.sampled_from(RAW_TEXTS).map(lambda raw: _with_raw(make_event(), raw)),
)


@st.composite
def native_batches(draw) -> tuple[list[bytes], list[dict]]:
    """Event texts in order, and the valid marker events among them."""
    texts, markers = draw(st.lists(hostile_texts, min_size=1, max_size=6)), []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        marker = make_event(id=f"marker-{uuid.uuid4()}")
        texts.insert(draw(st.integers(min_value=0, max_value=len(texts))), orjson.dumps(marker))
        markers.append(marker)
    return texts, markers


@pytest.fixture
def source_token(db):
    return create_source(name="gw-property", rate_limit_per_minute=1_000_000)


def assert_stored_once(source, markers: list[str]) -> None:
    stored = list(
        AuditEvent.objects.filter(source=source, event_id__in=markers).values_list(
            "event_id", flat=True
        )
    )
    assert sorted(stored) == sorted(markers)


def _post(url: str, token: str, body: bytes, content_type: str) -> httpx.Response:
    response = httpx.post(
        url,
        content=body,
        timeout=60,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    assert response.status_code < 500, response.text
    return response


@PROPERTY
@given(batch=native_batches(), form=st.sampled_from(["array", "wrapped", "ndjson"]))
def test_random_events_never_cause_a_5xx_and_every_valid_event_is_stored_once_natively(
    base_url, source_token, batch, form
):
    source, token = source_token
    texts, markers = batch
    if form == "ndjson":
        body, content_type = b"\n".join(texts), "application/x-ndjson"
    else:
        body, content_type = b"[" + b",".join(texts) + b"]", "application/json"
        body = b'{"events":' + body + b"}" if form == "wrapped" else body
    for _ in range(2):  # the client's retry stores nothing twice
        response = _post(f"{base_url}/api/v1/events", token, body, content_type)
        assert response.status_code == 200, response.text
        marker_texts = {orjson.dumps(m) for m in markers}
        rejected = {r["index"] for r in response.json()["rejected"]}
        assert not {i for i, text in enumerate(texts) if text in marker_texts} & rejected
        assert_stored_once(source, [m["id"] for m in markers])


# --- OTLP (the JSON encoding: random values in well-formed export requests) -------------------


def _now_ns() -> int:
    return int(datetime.now(UTC).timestamp() * 1e9)


OTLP_KEYS = [
    "mcp.method.name",
    "mcp.task.id",
    "mcp.task.status",
    "mcp.task.ttl",
    "mcp.task.poll_interval",
    "mcp.task.status_message",
    "gen_ai.tool.name",
    "mcp.session.id",
    "mcp.protocol.version",
    "user.id",
    "user.email",
    "enduser.id",
    "mcp.client.id",
    "mcp.client.name",
    "mcp.server.name",
    "mcp.server.url",
    "url.full",
    "server.address",
    "server.port",
    "service.name",
    "service.version",
    "log.record.uid",
    "event.name",
    "error.type",
    "rpc.jsonrpc.error_code",
    "jsonrpc.request.id",
    "http.response.status_code",
    "Authorization",
]
# (A protobuf string holds no lone surrogate: an export with one is malformed as a whole, 400.)
OTLP_STRINGS = [s for s in STRINGS if s == s.encode("utf-8", "replace").decode()]
any_values = st.recursive(
    st.one_of(
        st.builds(
            lambda s: {"stringValue": s},
            st.one_of(st.text(max_size=12), st.sampled_from(OTLP_STRINGS)),
        ),
        st.builds(
            lambda i: {"intValue": str(i)}, st.integers(min_value=-(2**63), max_value=2**63 - 1)
        ),
        st.builds(lambda b: {"boolValue": b}, st.booleans()),
        st.builds(
            lambda f: {"doubleValue": f},
            st.one_of(
                st.floats(allow_nan=False, allow_infinity=False),
                st.sampled_from(["NaN", "Infinity", "-Infinity"]),
            ),
        ),
        st.just({"bytesValue": "AAEC/w=="}),
        st.just({}),
    ),
    lambda inner: st.one_of(
        st.builds(lambda values: {"arrayValue": {"values": values}}, st.lists(inner, max_size=3)),
        st.builds(
            lambda pairs: {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in pairs]}},
            st.lists(st.tuples(st.sampled_from(OTLP_KEYS), inner), max_size=3),
        ),
    ),
    max_leaves=8,
)
attribute_lists = st.lists(
    st.builds(
        lambda k, v: {"key": k, "value": v},
        st.one_of(st.sampled_from(OTLP_KEYS), st.text(max_size=8)),
        any_values,
    ),
    max_size=6,
)
times = st.one_of(
    st.just(0),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.integers(min_value=-(10**12), max_value=10**12).map(lambda d: _now_ns() + d),
)
hex_ids = st.sampled_from([16, 8]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@st.composite
def random_spans(draw) -> dict:
    return {
        "traceId": draw(st.binary(min_size=16, max_size=16)).hex(),
        "spanId": draw(st.binary(min_size=8, max_size=8)).hex(),
        "name": draw(st.one_of(st.text(max_size=20), st.sampled_from(OTLP_STRINGS))),
        "kind": draw(st.integers(min_value=0, max_value=5)),
        "startTimeUnixNano": str(draw(times)),
        "endTimeUnixNano": str(draw(times)),
        "attributes": draw(attribute_lists),
        "status": {
            "code": draw(st.integers(min_value=0, max_value=2)),
            "message": draw(st.text(max_size=10)),
        },
    }


@st.composite
def random_logs(draw) -> dict:
    record = {
        "timeUnixNano": str(draw(times)),
        "observedTimeUnixNano": str(draw(times)),
        "severityNumber": draw(st.integers(min_value=0, max_value=24)),
        "severityText": draw(st.text(max_size=8)),
        "attributes": draw(attribute_lists),
        "eventName": draw(st.one_of(st.text(max_size=10), st.sampled_from(OTLP_STRINGS))),
    }
    if draw(st.booleans()):
        record["body"] = draw(any_values)
    if draw(st.booleans()):
        record["traceId"], record["spanId"] = (draw(hex_ids).hex(), draw(hex_ids).hex())
    return record


def _string(key: str, value: str) -> dict:
    return {"key": key, "value": {"stringValue": value}}


def marker_span() -> tuple[dict, str]:
    trace, span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    now = _now_ns()
    return (
        {
            "traceId": trace,
            "spanId": span,
            "name": "tools/call get-weather",
            "kind": 2,
            "startTimeUnixNano": str(now - 5_000_000_000),
            "endTimeUnixNano": str(now - 4_000_000_000),
            "attributes": [
                _string("mcp.method.name", "tools/call"),
                _string("gen_ai.tool.name", "get-weather"),
            ],
        },
        f"otlp:{trace}:{span}",
    )


def marker_log() -> tuple[dict, str]:
    uid = str(uuid.uuid4())
    return (
        {
            "timeUnixNano": str(_now_ns() - 5_000_000_000),
            "severityNumber": 9,
            "attributes": [
                _string("mcp.method.name", "tools/call"),
                _string("log.record.uid", uid),
            ],
        },
        f"otlp-log:{uid}",
    )


@st.composite
def otlp_exports(draw, signal: str) -> tuple[dict, list[str]]:
    items = draw(st.lists(random_spans() if signal == "traces" else random_logs(), max_size=5))
    markers = []
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        item, event_id = marker_span() if signal == "traces" else marker_log()
        items.insert(draw(st.integers(min_value=0, max_value=len(items))), item)
        markers.append(event_id)
    # (random resource attributes would apply to the markers too, and may rightly reject them)
    resource = {"attributes": [_string("service.name", "weather-mcp")]}
    if signal == "traces":
        body = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": items}]}]}
    else:
        body = {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": items}]}]}
    return body, markers


@PROPERTY
@given(data=st.data(), signal=st.sampled_from(["traces", "logs"]))
def test_random_otlp_items_never_cause_a_5xx_and_every_valid_item_is_stored_once(
    base_url, source_token, data, signal
):
    source, token = source_token
    export, markers = data.draw(otlp_exports(signal))
    body = _text(export)
    for _ in range(2):
        _post(f"{base_url}/v1/{signal}", token, body, "application/json")
        assert_stored_once(source, markers)
