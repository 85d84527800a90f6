"""Validation and redaction of single events: clear field errors, never an exception."""

from datetime import UTC, datetime, timedelta

import pytest

from audit.models import AuditEvent
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from tests.ingest_helpers import iso, make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def source():
    return create_source(name="gw-validation")[0]


def errors_for(source, event) -> dict:
    result = ingest_events(source=source, events=[event])
    assert result.accepted == 0, "the event should have been rejected"
    return result.rejected[0]["errors"]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"id": ""}, "id"),
        ({"id": 12}, "id"),
        ({"id": "x" * 301}, "id"),
        ({"type": None}, "type"),
        ({"time": None}, "time"),
        ({"time": "2026-11-30T09:00:00"}, "time"),  # no offset
        ({"time": "yesterday"}, "time"),
        ({"actor": "alice"}, "actor"),
        ({"actor": {"id": 7}}, "actor.id"),
        ({"client": {"id": "c" * 501}}, "client.id"),
        ({"server": {"url": "ftp://x"}}, "server.url"),
        ({"server": {"url": 443}}, "server.url"),
        ({"server": {"url": ["https://a.example"]}}, "server.url"),
        ({"server": {"url": "https://a.example:99999/mcp"}}, "server.url"),
        ({"outcome": "ok"}, "outcome"),
        ({"duration_ms": "12"}, "duration_ms"),
        ({"duration_ms": -1}, "duration_ms"),
        ({"delegation": {"id": "a"}}, "delegation"),
        ({"delegation": [{"type": "agent"}]}, "delegation[0]"),
        ({"task": {"id": "t", "status": "done"}}, "task.status"),
        ({"task": {"status": "working"}}, "task.id"),
        ({"task": {"id": "t", "ttl": "long"}}, "task.ttl"),
        ({"grant": {"scopes": "read write"}}, "grant.scopes"),
        ({"grant": {"expires_at": "soon"}}, "grant.expires_at"),
        ({"error": {"code": 1.5}}, "error.code"),
        ({"attributes": []}, "attributes"),
        ({"method": "m" * 101}, "method"),
    ],
)
def test_a_wrong_type_or_missing_field_is_named_in_the_errors(source, overrides, field):
    assert field in errors_for(source, make_event(**overrides))


def test_timestamps_far_in_the_future_or_past_are_refused(source):
    now = datetime.now(UTC)
    assert "future" in errors_for(source, make_event(time=iso(now + timedelta(days=2))))["time"]
    assert "past" in errors_for(source, make_event(time=iso(now - timedelta(days=4000))))["time"]


def test_a_non_object_event_and_a_nul_character_are_rejected_not_crashed(source):
    result = ingest_events(source=source, events=[1, "x", None, make_event(tool="a\u0000b")])
    assert result.accepted == 0 and len(result.rejected) == 4
    assert "NUL" in result.rejected[3]["errors"]["event"]


def test_an_oversize_event_is_rejected_and_its_neighbours_stored(source, settings):
    settings.AUDIT_MAX_EVENT_BYTES = 2000
    big = make_event(attributes={"blob": "x" * 5000})
    result = ingest_events(source=source, events=[make_event(), big, make_event()])
    assert result.accepted == 2 and result.rejected[0]["index"] == 1
    assert "larger than" in result.rejected[0]["errors"]["event"]


def test_unknown_top_level_fields_are_kept_in_attributes(source):
    event = make_event(vendor_trace="abc", attributes={"vendor_trace": "inner"})
    ingest_events(source=source, events=[event])
    stored = AuditEvent.objects.get(event_id=event["id"]).payload
    assert "vendor_trace" not in stored
    assert stored["attributes"]["vendor_trace"] == "inner"
    assert stored["attributes"]["_top.vendor_trace"] == "abc"


def test_an_event_in_a_month_without_a_partition_gets_one(source):
    old = datetime.now(UTC) - timedelta(days=200)
    event = make_event(time=iso(old))
    assert ingest_events(source=source, events=[event]).accepted == 1
    assert ingest_events(source=source, events=[event]).duplicates == 1


def test_secrets_are_masked_before_storage_and_the_event_says_so(source):
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    event = make_event(
        attributes={
            "headers": {
                "Authorization": "Bearer s3cr3t-t0ken-value",
                "Cookie": "sid=abc",
                "X-Request-Id": "r-1",
            },
            "params": {
                "arguments": {
                    "password": "hunter2",
                    "note": f"token {jwt} used",
                    "key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
                    "aws": "AKIAABCDEFGHIJKLMNOP",
                    "progressToken": "p-1",
                }
            },
            "log": "curl -H 'Authorization: Bearer abcdefghijklmnop' https://x",
            "trace": (
                "sent Cookie: session=deadbeefcafe; then GET /cb?code=1&access_token=tok123456"
            ),
            "dsn": "postgres://app:s3kr1tpass@db.internal/app",
        }
    )
    ingest_events(source=source, events=[event])
    row = AuditEvent.objects.get(event_id=event["id"])
    text = str(row.payload)
    for secret in (
        "s3cr3t",
        "sid=abc",
        "hunter2",
        jwt,
        "MIIE",
        "AKIAABCDEFGHIJKLMNOP",
        "abcdefghijklmnop",
        "deadbeefcafe",
        "tok123456",
        "s3kr1tpass",
    ):
        assert secret not in text
    assert row.redacted is True
    assert {"path": "attributes.headers.Authorization", "rule": "sensitive_key"} in row.payload[
        "redactions"
    ]
    args = row.payload["attributes"]["params"]["arguments"]
    assert (
        args["progressToken"] == "p-1"
        and row.payload["attributes"]["headers"]["X-Request-Id"] == "r-1"
    )


def test_redaction_rules_are_configurable(source, settings):
    from audit.services import redaction

    settings.AUDIT_REDACTION_EXTRA_PATTERNS = [r"EMP-\d{6}"]
    settings.AUDIT_REDACTION_EXTRA_KEYS = ["ssn"]
    redaction.reset_rules_cache()
    try:
        event = make_event(attributes={"who": "EMP-123456", "ssn": "078-05-1120"})
        ingest_events(source=source, events=[event])
        attrs = AuditEvent.objects.get(event_id=event["id"]).payload["attributes"]
        assert attrs["who"] == "[REDACTED:custom_1]" and attrs["ssn"] == "[REDACTED]"
    finally:
        redaction.reset_rules_cache()


def test_an_event_without_secrets_is_stored_as_sent(source):
    event = make_event()
    ingest_events(source=source, events=[event])
    row = AuditEvent.objects.get(event_id=event["id"])
    assert row.redacted is False and "redactions" not in row.payload
    assert row.payload["attributes"] == {"region": "eu"}


SECRET_SAMPLES = [
    '{"h": {"Authorization": "Bearer abcdefghijkl"}}',
    '{"a": "eyJhbGciOi.eyJzdWIi.sig"}',
    '{"k": "AKIAABCDEFGHIJKLMNOP"}',
    '{"u": "https://bob:hunter2@db.example/x"}',
    '{"t": "sk-proj-abcdefghijklmnopqrstuvwx"}',
    '{"c": "Cookie: sid=1"}',
    '{"p": "-----BEGIN RSA PRIVATE KEY-----"}',
    '{"x": "?password=a"}',
    '{"clientSecret": "v"}',
]
CLEAN_SAMPLES = [
    '{"id": "task-123", "tool": "disk-usage"}',
    '{"q": "quarterly report"}',
    '{"limit": 50, "region": "eu-west-1"}',
    '{"u": "https://example.com/a@b"}',
]


def test_the_accelerated_secret_prefilter_decides_as_the_plain_python_one(monkeypatch):
    """Hyperscan is an optional accelerator: with and without it, the same events are walked."""
    from audit.services import redaction

    redaction.reset_rules_cache()
    assert redaction._matcher() is not None, "the hyperscan wheel is a pinned requirement"
    fast = [redaction.may_need_redaction(s.encode()) for s in SECRET_SAMPLES + CLEAN_SAMPLES]
    monkeypatch.setattr(redaction, "hyperscan", None)
    redaction.reset_rules_cache()
    try:
        slow = [redaction.may_need_redaction(s.encode()) for s in SECRET_SAMPLES + CLEAN_SAMPLES]
    finally:
        monkeypatch.undo()
        redaction.reset_rules_cache()
    assert fast == slow
    assert fast[: len(SECRET_SAMPLES)] == [True] * len(SECRET_SAMPLES)
    assert fast[len(SECRET_SAMPLES) :] == [False] * len(CLEAN_SAMPLES)
