"""What SIEMs parse (issue 14 §4-5): CEF lines that unescape back to the text we meant, audit
events as canonical JSON (the explorer's export) and as OCSF API Activity that passes the
schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pycef
import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.alerts import formats
from tests.receivers import parse_cef

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "fixtures/ocsf/api_activity_1.3.0.schema.json").read_text()
)
EVENT = {
    "time": datetime(2026, 12, 5, 12, 0, 0, 123000, tzinfo=UTC),
    "received_at": datetime(2026, 12, 5, 12, 0, 1, tzinfo=UTC),
    "source_id": 3,
    "batch_id": 9,
    "event_id": "evt-1",
    "type": "mcp.request",
    "actor_issuer": "https://idp.example",
    "actor_subject": "alice",
    "client_ref": "build-bot",
    "server_name": "github",
    "method": "tools/call",
    "tool": "create_issue",
    "task_id": "",
    "session_id": "s-1",
    "outcome": "success",
    "duration_ms": 12.5,
    "redacted": False,
    "payload": {"arguments": {"title": "x"}},
}
# Text that needs every escape, and text that looks like the next key.
NASTY = "a|b\\c=d\ne\r\nf key=value \\n |"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_any_extension_value_round_trips_through_cef_escaping(text):
    line = formats.cef_line("kind", "name", 5, [("msg", text), ("cs1", "after")])
    parsed = parse_cef(line)
    # a CRLF is one line break (\n); an empty value is left out
    assert parsed["extension"].get("msg", "") == text.replace("\r\n", "\n")
    assert parsed["extension"]["cs1"] == "after"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80))
def test_any_header_field_round_trips_through_cef_escaping(text):
    parsed = parse_cef(formats.cef_line(text, text, 5, []))
    assert parsed["signature_id"] == text
    assert parsed["name"] == text


def test_cef_escapes_exactly_what_the_guide_says():
    line = formats.cef_line("a|b\\c=d", "n", 3, [("msg", NASTY)])
    assert line.split("|")[4:6] == ["a\\", "b\\\\c=d"]  # header: | and \ escaped, = not
    assert line.endswith("msg=a|b\\\\c\\=d\\ne\\nf key\\=value \\\\n |")  # extension: \ = CRLF
    assert parse_cef(line)["extension"]["msg"] == NASTY.replace("\r\n", "\n")


def test_cef_severity_follows_the_finding_severity():
    severities = {
        s: parse_cef(formats.finding_cef({"kind": "k", "summary": "s", "severity": s}))["severity"]
        for s in ("info", "warning", "high", "critical")
    }
    assert severities == {"info": 3, "warning": 5, "high": 8, "critical": 10}


def test_pycef_reads_our_plain_lines_as_we_do():
    line = formats.event_cef(EVENT)
    ours, theirs = parse_cef(line), pycef.parse(line)
    assert theirs["DeviceVendor"] == ours["vendor"] == "MCP Governance"
    assert theirs["DeviceEventClassID"] == ours["signature_id"] == "mcp.request"
    assert int(theirs["Severity"]) == ours["severity"]
    for key in ("rt", "externalId", "suser", "app", "dhost", "act", "outcome"):
        assert theirs[key] == ours["extension"][key], key


def test_canonical_event_is_the_explorer_export_row():
    document = formats.canonical_event(EVENT)
    assert document["time"] == "2026-12-05T12:00:00.123Z"
    assert document["event_id"] == "evt-1" and document["payload"] == EVENT["payload"]
    assert set(document) == set(formats.EVENT_FIELDS)
    json.dumps(document)  # plain JSON data


@pytest.mark.parametrize(
    "method,outcome,activity_id,status_id",
    [
        ("tools/call", "success", 99, 1),
        ("tools/list", "success", 2, 1),
        ("resources/read", "error", 2, 2),
        ("initialize", "", 1, 0),
        ("grant.revoked", "success", 4, 1),
    ],
)
def test_ocsf_api_activity_passes_the_schema(method, outcome, activity_id, status_id):
    document = formats.event_ocsf({**EVENT, "method": method, "outcome": outcome})
    jsonschema.validate(document, SCHEMA)
    assert (document["activity_id"], document["status_id"]) == (activity_id, status_id)
    assert document["type_uid"] == 600300 + activity_id
    assert document["time"] == 1796472000123
    assert document["metadata"]["uid"] == "evt-1"
    assert document["actor"]["user"]["uid"] == "alice"
    assert document["api"]["service"]["name"] == "github"


def test_ocsf_of_a_sparse_event_still_passes_the_schema():
    sparse = {"time": "2026-12-05T12:00:00Z", "event_id": "e", "type": "x", "outcome": ""}
    jsonschema.validate(formats.event_ocsf(sparse), SCHEMA)


def test_email_text_lists_each_finding_with_its_link():
    from governance.alerts.transports import OutgoingMessage

    finding = {"id": 5, "kind": "k", "severity": "high", "summary": "S", "url": "http://c/f/5"}
    text = formats.message_text(
        OutgoingMessage(
            "key-1",
            "findings.opened",
            "1 finding",
            "high",
            formats.findings_body("findings.opened", [finding]),
        )
    )
    assert "[high] S" in text and "http://c/f/5" in text and "key-1" in text
