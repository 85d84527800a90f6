"""POST /api/v1/events over real HTTP: statuses, bad input, exactly-once, per-event results."""

import gzip
import json

import httpx
import orjson
import pytest

from audit.models import AuditEvent, EventDedup
from audit.services.sources import create_source, rotate_source_token, set_source_enabled
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def source_token(db):
    source, token = create_source(name="gw-test")
    return source, token


def post(live_server, token, body, *, content_type="application/json", headers=None):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    all_headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type,
                   **(headers or {})}
    return httpx.post(f"{live_server.url}/api/v1/events", content=data, headers=all_headers,
                      timeout=30)


def test_a_batch_is_stored_and_counted_with_invalid_events_reported_beside_valid_ones(
        live_server, source_token):
    _, token = source_token
    good, bad = make_event(), make_event(time="not a time", outcome="maybe")
    del bad["type"]
    response = post(live_server, token, [good, bad, make_event()])
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert body["rejected"] == [{"index": 1, "id": bad["id"], "errors": {
        "type": "is required: a string such as mcp.request",
        "time": "is not a valid RFC 3339 timestamp",
        "outcome": "must be one of success, error, denied"}}]
    assert AuditEvent.objects.filter(event_id=good["id"]).exists()


def test_the_same_event_id_is_stored_once_across_requests_and_within_one(live_server,
                                                                        source_token):
    _, token = source_token
    event = make_event()
    first = post(live_server, token, {"events": [event, event]}).json()
    again = post(live_server, token, [event]).json()
    assert (first["accepted"], first["duplicates"]) == (1, 1)
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert AuditEvent.objects.filter(event_id=event["id"]).count() == 1


def test_ndjson_with_gzip_is_accepted_and_a_broken_line_is_rejected_alone(live_server,
                                                                         source_token):
    _, token = source_token
    lines = [orjson.dumps(make_event()), b"{not json", orjson.dumps(make_event())]
    response = post(live_server, token, gzip.compress(b"\n".join(lines) + b"\n"),
                    content_type="application/x-ndjson", headers={"Content-Encoding": "gzip"})
    body = response.json()
    assert response.status_code == 200 and body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1]
    assert "line" in body["rejected"][0]["errors"]


@pytest.mark.parametrize("body, status", [
    (b"{\"events\": [", 400),
    (b"\xff\xfe not utf-8", 400),
    (b"{\"hello\": 1}", 400),
    (b"42", 400),
])
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


def test_oversize_bodies_gzip_bombs_and_too_many_events_get_413(live_server, source_token,
                                                               settings):
    _, token = source_token
    settings.AUDIT_MAX_REQUEST_BYTES = 64 * 1024
    settings.AUDIT_MAX_EVENTS_PER_REQUEST = 3
    assert post(live_server, token, b"[" + b" " * 70_000 + b"]").status_code == 413
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")  # 50 MB of spaces in ~50 KB
    assert len(bomb) < 64 * 1024
    response = post(live_server, token, bomb, headers={"Content-Encoding": "gzip"})
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
    big = orjson.dumps(make_event())[:-1] + b',"huge": 123456789012345678901234567890}'
    surrogate = orjson.dumps(make_event())[:-1] + b',"bad": "\\ud800"}'
    deep_json = json.dumps(deep).encode()  # orjson itself refuses to write 300 levels
    body = b"[" + b",".join([orjson.dumps(good), deep_json, big, surrogate]) + b"]"
    response = post(live_server, token, body)
    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 1
    assert sorted(r["index"] for r in result["rejected"]) == [1, 2, 3]
    too_deep = b"[" * 5000 + b"]" * 5000
    assert post(live_server, token, too_deep).status_code == 400


def test_a_high_rate_limit_is_counted_in_batches_and_still_enforced(db, settings, monkeypatch):
    """Above 2,000 requests/minute a process adds its requests to the shared count in batches
    (one statement per batch, not per request), and the limit still holds within a batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit import sources

    sources.forget_rate_windows()
    monkeypatch.setattr(sources, "SYNC_SECONDS", 3600)  # only the batch size triggers a sync
    source, _ = create_source(name="gw-fast-limit", rate_limit_per_minute=20_000)  # batch of 10
    with CaptureQueriesContext(connection) as queries:
        answers = [sources.rate_limit_retry_after(source) for _ in range(100)]
    counted = [q for q in queries.captured_queries if "audit_rate_window" in q["sql"]]
    assert answers == [None] * 100
    assert len(counted) == 10  # the window's first request at once, then every 10th
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(requests) FROM audit_rate_window WHERE source_id = %s",
                       [source.pk])
        assert cursor.fetchone()[0] == 91  # 1 + 9 batches; 9 still unsent in this process

    # Other processes have used up the window: the next request completes a batch (9 unsent
    # + 1), its sync sees the shared count, and from then on requests are refused.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_rate_window SET requests = 20000 WHERE source_id = %s",
                       [source.pk])
    answers = [sources.rate_limit_retry_after(source) for _ in range(5)]
    assert all(answer is not None and 1 <= answer <= 60 for answer in answers), answers


def test_non_utf8_bytes_where_the_fast_path_does_not_look_are_a_400_or_a_rejected_line(
        live_server, source_token):
    """Bytes the compiled fast path skips (inside `attributes`, an unknown field of `actor`) are
    not UTF-8: a JSON body is a 400 like any other non-UTF-8 body, an NDJSON line is rejected
    alone and its neighbours are stored; never a 500."""
    _, token = source_token
    good = [make_event(), make_event()]
    bad = [orjson.dumps(make_event()).replace(b'"region":"eu"', b'"region":"caf\xe9"'),
           orjson.dumps(make_event(actor={"id": "a", "note": "x"})).replace(b'"x"', b'"\xff"')]
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
