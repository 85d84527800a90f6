"""POST /api/v1/events over real HTTP: statuses, bad input, exactly-once, per-event results."""

import gzip
import json
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from audit.models import AuditEvent, EventDedup
from audit.services.sources import create_source, rotate_source_token, set_source_enabled
from tests.ingest_helpers import iso, make_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def source_token(db):
    source, token = create_source(name="gw-test")
    return source, token


def post(live_server, token, body, *, content_type="application/json", headers=None):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    all_headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": content_type,
        **(headers or {}),
    }
    return httpx.post(
        f"{live_server.url}/api/v1/events", content=data, headers=all_headers, timeout=30
    )


def test_a_batch_is_stored_and_counted_with_invalid_events_reported_beside_valid_ones(
    live_server, source_token
):
    _, token = source_token
    good, bad = make_event(), make_event(time="not a time", outcome="maybe")
    del bad["type"]
    response = post(live_server, token, [good, bad, make_event()])
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert body["rejected"] == [
        {
            "index": 1,
            "id": bad["id"],
            "errors": {
                "type": "is required: a string such as mcp.request",
                "time": "is not a valid RFC 3339 timestamp",
                "outcome": "must be one of success, error, denied",
            },
        }
    ]
    assert AuditEvent.objects.filter(event_id=good["id"]).exists()


def test_the_same_event_id_is_stored_once_across_requests_and_within_one(live_server, source_token):
    _, token = source_token
    event = make_event()
    first = post(live_server, token, {"events": [event, event]}).json()
    again = post(live_server, token, [event]).json()
    assert (first["accepted"], first["duplicates"]) == (1, 1)
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert AuditEvent.objects.filter(event_id=event["id"]).count() == 1


def test_ndjson_with_gzip_is_accepted_and_a_broken_line_is_rejected_alone(
    live_server, source_token
):
    _, token = source_token
    invalid = make_event(outcome="maybe")
    lines = [
        orjson.dumps(make_event()),
        b"{not json",
        orjson.dumps(make_event()),
        orjson.dumps(invalid),
    ]
    response = post(
        live_server,
        token,
        gzip.compress(b"\n".join(lines) + b"\n"),
        content_type="application/x-ndjson",
        headers={"Content-Encoding": "gzip"},
    )
    body = response.json()
    assert response.status_code == 200 and body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 3]  # a line's index in the body
    assert "line" in body["rejected"][0]["errors"]
    assert body["rejected"][1]["id"] == invalid["id"]
    assert list(body["rejected"][1]["errors"]) == ["outcome"]


@pytest.mark.parametrize(
    "body, status",
    [
        (b'{"events": [', 400),
        (b"\xff\xfe not utf-8", 400),
        (b'{"hello": 1}', 400),
        (b"42", 400),
    ],
)
def test_unparseable_bodies_get_400_naming_the_problem(live_server, source_token, body, status):
    _, token = source_token
    response = post(live_server, token, body)
    assert response.status_code == status
    assert response.json()["detail"]


def test_missing_unknown_rotated_and_disabled_tokens_get_401(live_server, source_token):
    source, token = source_token
    url = f"{live_server.url}/api/v1/events"
    assert httpx.post(url, content=b"[]").status_code == 401
    assert post(live_server, "mcpg_nope", []).status_code == 401
    new_token = rotate_source_token(source=source)
    assert post(live_server, token, []).status_code == 401
    assert post(live_server, new_token, []).status_code == 200
    set_source_enabled(source=source, enabled=False)
    response = post(live_server, new_token, [])
    assert response.status_code == 401 and "disabled" in response.json()["detail"]


def test_wrong_media_type_and_encoding_get_415(live_server, source_token):
    _, token = source_token
    assert post(live_server, token, b"a,b", content_type="text/csv").status_code == 415
    assert post(live_server, token, b"[]", headers={"Content-Encoding": "br"}).status_code == 415


def test_oversize_bodies_gzip_bombs_and_too_many_events_get_413(
    live_server, source_token, settings
):
    _, token = source_token
    settings.AUDIT_MAX_REQUEST_BYTES = 64 * 1024
    settings.AUDIT_MAX_EVENTS_PER_REQUEST = 3
    assert post(live_server, token, b"[" + b" " * 70_000 + b"]").status_code == 413
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")  # 50 MB of spaces in ~50 KB
    assert len(bomb) < 64 * 1024
    response = post(live_server, token, bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    # Many members, each under the limit: the cap is on their sum.
    members = gzip.compress(b"[") + gzip.compress(b" " * 60_000) * 40 + gzip.compress(b"]")
    assert len(members) < 64 * 1024
    response = post(live_server, token, members, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    response = post(live_server, token, [make_event() for _ in range(4)])
    assert response.status_code == 413 and "split" in response.json()["detail"]


def test_over_the_sources_rate_limit_gets_429_with_retry_after(live_server, db):
    source, token = create_source(name="gw-limited", rate_limit_per_minute=2)
    assert post(live_server, token, []).status_code == 200
    # Two per minute: within five requests one is refused even if a minute boundary passes.
    statuses = [post(live_server, token, []) for _ in range(4)]
    response = next(r for r in statuses if r.status_code != 200)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_the_event_schema_is_published_as_json_schema(live_server):
    response = httpx.get(f"{live_server.url}/api/v1/events/schema")
    assert response.status_code == 200
    schema = response.json()
    assert schema["required"] == ["id", "time", "type"]
    assert "delegation" in schema["properties"]


def test_dedup_keys_are_kept_per_source(live_server, source_token):
    _, token = source_token
    _, other_token = create_source(name="gw-other")
    event = make_event()
    assert post(live_server, token, [event]).json()["accepted"] == 1
    assert post(live_server, other_token, [event]).json()["accepted"] == 1
    assert EventDedup.objects.filter(event_id=event["id"]).count() == 2


def test_hostile_json_is_rejected_per_event_or_as_400_never_a_500(live_server, source_token):
    _, token = source_token
    good = make_event()
    deep = make_event(attributes={"a": None})
    node = deep["attributes"]
    for _ in range(300):
        node["a"] = {"a": None}
        node = node["a"]
    surrogate = orjson.dumps(make_event())[:-1] + b',"bad": "\\ud800"}'
    deep_json = json.dumps(deep).encode()  # orjson itself refuses to write 300 levels
    body = b"[" + b",".join([orjson.dumps(good), deep_json, surrogate]) + b"]"
    response = post(live_server, token, body)
    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 1
    assert sorted(r["index"] for r in result["rejected"]) == [1, 2]
    too_deep = b"[" + orjson.dumps(good) + b"," + b"[" * 5000 + b"]" * 5000 + b"]"
    response = post(live_server, token, too_deep)  # valid JSON: that event alone is rejected
    assert response.status_code == 200, response.text
    assert [r["index"] for r in response.json()["rejected"]] == [1]
    assert "nested" in response.json()["rejected"][0]["errors"]["event"]


HUGE = b"123456789012345678901234567890"  # beyond 64 bits: orjson would read a rounded float


def _with_huge(event: dict) -> bytes:
    return orjson.dumps(event).replace(b'"n":0', b'"n":' + HUGE)


def _stored_payload(event_id: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT payload::text FROM audit_event WHERE event_id = %s", [event_id])
        return cursor.fetchone()[0]


def test_integers_beyond_64_bits_are_stored_exactly_on_every_path(live_server, source_token):
    """An audit record keeps what was sent: a huge integer is neither rounded nor refused, on
    the compiled path (plain event), the Python path (a task report), the redaction path (a
    secret beside it) and an NDJSON line."""
    _, token = source_token
    plain = make_event(attributes={"n": 0})
    task = make_event(attributes={"n": 0}, task={"id": "task-huge", "status": "working"})
    secret = make_event(
        attributes={"n": 0, "headers": {"Authorization": "Bearer abcdefghijklmnop"}}
    )
    body = b"[" + b",".join(_with_huge(e) for e in (plain, task, secret)) + b"]"
    assert post(live_server, token, body).json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    for event in (plain, task, secret):
        assert b'"n":' + HUGE in _stored_payload(event["id"]).replace(" ", "").encode()
    assert "abcdefghijklmnop" not in _stored_payload(secret["id"])

    line = make_event(attributes={"n": 0}, task={"id": "task-huge-2", "status": "working"})
    ndjson = _with_huge(line) + b"\n{not json\n"
    result = post(live_server, token, ndjson, content_type="application/x-ndjson").json()
    assert (result["accepted"], [r["index"] for r in result["rejected"]]) == (1, [1])
    assert b'"n":' + HUGE in _stored_payload(line["id"]).replace(" ", "").encode()


def test_a_high_rate_limit_is_counted_in_batches_and_still_enforced(
    db, settings, monkeypatch, mid_minute_clock
):
    """Above 2,000 requests/minute a process adds its requests to the shared count in batches
    (one statement per batch, not per request), and the limit still holds within a batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit import source_auth

    source_auth.forget_rate_windows()
    monkeypatch.setattr(source_auth, "SYNC_SECONDS", 3600)  # only the batch size triggers a sync
    source, _ = create_source(name="gw-fast-limit", rate_limit_per_minute=20_000)  # batch of 10
    with CaptureQueriesContext(connection) as queries:
        answers = [source_auth.rate_limit_retry_after(source) for _ in range(100)]
    counted = [q for q in queries.captured_queries if "audit_rate_window" in q["sql"]]
    assert answers == [None] * 100
    assert len(counted) == 10  # the window's first request at once, then every 10th
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(requests) FROM audit_rate_window WHERE source_id = %s", [source.pk]
        )
        assert cursor.fetchone()[0] == 91  # 1 + 9 batches; 9 still unsent in this process

    # Other processes have used up the window: the next request completes a batch (9 unsent
    # + 1), its sync sees the shared count, and from then on requests are refused.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_rate_window SET requests = 20000 WHERE source_id = %s", [source.pk]
        )
    answers = [source_auth.rate_limit_retry_after(source) for _ in range(5)]
    assert all(answer is not None and 1 <= answer <= 60 for answer in answers), answers


def test_non_utf8_bytes_where_the_fast_path_does_not_look_are_a_400_or_a_rejected_line(
    live_server, source_token
):
    """Bytes the compiled fast path skips (inside `attributes`, an unknown field of `actor`) are
    not UTF-8: a JSON body is a 400 like any other non-UTF-8 body, an NDJSON line is rejected
    alone and its neighbours are stored; never a 500."""
    _, token = source_token
    good = [make_event(), make_event()]
    bad = [
        orjson.dumps(make_event()).replace(b'"region":"eu"', b'"region":"caf\xe9"'),
        orjson.dumps(make_event(actor={"id": "a", "note": "x"})).replace(b'"x"', b'"\xff"'),
    ]
    for one in bad:
        response = post(live_server, token, b"[" + orjson.dumps(good[0]) + b"," + one + b"]")
        assert response.status_code == 400, response.text
        assert "UTF-8" in response.json()["detail"]
    assert not AuditEvent.objects.exists()
    lines = [orjson.dumps(good[0]), bad[0], orjson.dumps(good[1]), bad[1]]
    response = post(live_server, token, b"\n".join(lines), content_type="application/x-ndjson")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2 and [r["index"] for r in body["rejected"]] == [1, 3]
    assert all("line" in r["errors"] for r in body["rejected"])
    assert set(AuditEvent.objects.values_list("event_id", flat=True)) == {e["id"] for e in good}


# The documented length limits (docs/events.md: they follow the inventory columns each field
# feeds), written out here so that a changed limit on either validation path is noticed.
STRING_LIMITS = {
    "id": 300,
    "type": 200,
    "session_id": 300,
    "protocol_version": 50,
    "method": 100,
    "tool": 300,
    "actor.id": 300,
    "actor.type": 50,
    "actor.idp": 300,
    "actor.email": 300,
    "actor.name": 300,
    "client.id": 500,
    "client.name": 300,
    "client.version": 100,
    "server.name": 300,
    "server.url": 1000,
    "server.version": 255,
    "grant.id": 300,
    "grant.type": 50,
    "grant.issuer": 300,
    "error.message": 4000,
}


def _with_length(event: dict, field: str, length: int) -> dict:
    """`event` with the string at dotted `field` padded (or cut) to `length` characters."""
    event = orjson.loads(orjson.dumps(event))
    *parents, name = field.split(".")
    target = event
    for parent in parents:
        target = target.setdefault(parent, {})
    start = (
        "https://mcp.example.com/"
        if field == "server.url"
        else event["id"]
        if field == "id"
        else "v"
    )
    target[name] = (start + "x" * length)[:length]
    return event


def test_strings_at_their_limit_are_stored_and_one_character_more_is_rejected_by_name(
    live_server, source_token
):
    """Both validation paths hold every documented limit: an event with every string at its
    limit is stored (by the compiled fast path, and by the Python path when an unknown field
    sends it there), and each string one character longer rejects its event, naming the field,
    while the events beside it are stored."""
    from audit.services import fast_validation, validation
    from audit.services.ingest import current_limits

    assert set(STRING_LIMITS) == set(validation.TOP_STRINGS) | {
        f"{name}.{key}" for name, fields in validation.OBJECTS.items() for key in fields
    }
    _, token = source_token
    at_limit = make_event(
        grant={"scopes": ["s" * 200]},
        error={"code": 1},
        delegation=[{"id": f"d{i}".ljust(300, "x")} for i in range(20)],
    )
    for field, limit in STRING_LIMITS.items():
        at_limit = _with_length(at_limit, field, limit)
    assert fast_validation.accept(orjson.dumps(at_limit), current_limits()) is not None
    python_path = {**at_limit, "id": "python-path-".ljust(300, "p"), "vendor": "x"}
    too_long = {
        field: _with_length(make_event(), field, limit + 1)
        for field, limit in STRING_LIMITS.items()
    }
    too_long["delegation"] = make_event(delegation=[{"id": "d"}] * 21)
    too_long["delegation[0]"] = make_event(delegation=[{"id": "d" * 301}])
    too_long["grant.scopes"] = make_event(grant={"scopes": ["s" * 201]})
    expected = {
        field: {field: f"is longer than {limit} characters"}
        for field, limit in STRING_LIMITS.items()
    }
    expected["delegation"] = {"delegation": "must be a list of at most 20 {id, type} objects"}
    expected["delegation[0]"] = {"delegation[0]": "must be an object with a string id (and type)"}
    expected["grant.scopes"] = {"grant.scopes": "must be a list of strings"}

    response = post(live_server, token, [at_limit, *too_long.values(), python_path])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2, body
    assert [r["index"] for r in body["rejected"]] == list(range(1, len(too_long) + 1))
    assert dict(zip(too_long, (r["errors"] for r in body["rejected"]))) == expected
    assert {e.event_id for e in AuditEvent.objects.all()} == {at_limit["id"], python_path["id"]}


def _without(field: str) -> bytes:
    return orjson.dumps({k: v for k, v in make_event().items() if k != field})


def test_each_wrong_type_missing_field_or_bad_time_is_named_and_its_neighbours_stored(
    live_server, source_token, settings
):
    """Events that are plain but for one fault: the compiled fast path sees each first and
    must not accept it; the Python checks then reject it naming that one field, and the
    valid events between them are stored."""
    _, token = source_token
    now = datetime.now(UTC)
    too_late = now + timedelta(seconds=settings.AUDIT_MAX_CLOCK_SKEW_SECONDS + 600)
    too_early = now - timedelta(days=settings.AUDIT_MAX_EVENT_AGE_DAYS, hours=1)
    faulty = {  # (event as sent, the field named, a word of the message)
        "tool not a string": (make_event(tool=42), "tool", "string"),
        "actor.id not a string": (make_event(actor={"id": 7}), "actor.id", "string"),
        "actor not an object": (make_event(actor="alice"), "actor", "object"),
        "outcome": (make_event(outcome="maybe"), "outcome", "one of"),
        "negative duration": (make_event(duration_ms=-1), "duration_ms", "non-negative"),
        "boolean duration": (make_event(duration_ms=True), "duration_ms", "non-negative"),
        "boolean error code": (make_event(error={"code": True}), "error.code", "integer"),
        "float error code": (make_event(error={"code": 1.5}), "error.code", "integer"),
        "scope not a string": (make_event(grant={"scopes": ["read", 5]}), "grant.scopes", "list"),
        "grant expiry": (make_event(grant={"expires_at": "soon"}), "grant.expires_at", "RFC"),
        "link not an object": (make_event(delegation=["agent-1"]), "delegation[0]", "object"),
        "link type": (make_event(delegation=[{"id": "a", "type": 5}]), "delegation[0]", "type"),
        "server URL": (make_event(server={"url": "ftp://x.example"}), "server.url", "http"),
        "server URL not a string": (make_event(server={"url": 443}), "server.url", "string"),
        "NUL character": (make_event(tool="a\u0000b"), "event", "NUL"),
        "attributes": (make_event(attributes=["a"]), "attributes", "object"),
        "oversize event": (
            make_event(attributes={"blob": "x" * settings.AUDIT_MAX_EVENT_BYTES}),
            "event",
            "larger than",
        ),
        "not an object": (42, "event", "object"),
        "missing id": (_without("id"), "id", "required"),
        "blank id": (make_event(id="  "), "id", "required"),
        "missing type": (_without("type"), "type", "required"),
        "empty type": (make_event(type=""), "type", "required"),
        "missing time": (_without("time"), "time", "required"),
        "time without offset": (make_event(time="2026-11-30T09:00:00"), "time", "offset"),
        "time in the future": (make_event(time=iso(too_late)), "time", "future"),
        "time in the past": (make_event(time=iso(too_early)), "time", "past"),
    }
    valid = [make_event() for _ in faulty]
    texts = []
    for good, (event, _, _) in zip(valid, faulty.values()):
        texts += [orjson.dumps(good), event if isinstance(event, bytes) else orjson.dumps(event)]
    response = post(live_server, token, b"[" + b",".join(texts) + b"]")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == len(valid) and body["duplicates"] == 0, body
    assert [r["index"] for r in body["rejected"]] == list(range(1, 2 * len(faulty), 2))
    named = {name: r["errors"] for name, r in zip(faulty, body["rejected"])}
    for name, (_, field, word) in faulty.items():
        assert list(named[name]) == [field] and word in named[name][field], (name, named[name])
    assert {e.event_id for e in AuditEvent.objects.all()} == {e["id"] for e in valid}
