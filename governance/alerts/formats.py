"""The facts a destination receives, rendered per wire (issue 14 §4-5; docs/alerts.md "Wire
formats"): the findings document a webhook gets, one CEF line per finding, and an audit event as
canonical JSON, CEF or OCSF API Activity.

Pure functions over plain dicts: the transports frame what these return, the tests parse it back.
CEF escaping follows the ArcSight guide: in the header `\\` and `|` are escaped, in the extension
`\\`, `=` and line breaks; nothing else is touched, so a receiver's unescape gives the text back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from audit.services.canon import CANON_COLUMNS

CEF_VENDOR = "MCP Governance"
CEF_PRODUCT = "MCP Governance Console"
# Finding severities on CEF's 0-10 scale (10 most important): the ArcSight buckets
# low 0-3, medium 4-6, high 7-8, very high 9-10.
CEF_SEVERITY = {"info": 3, "warning": 5, "high": 8, "critical": 10}
# ... and on OCSF's severity_id (1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical).
OCSF_SEVERITY = {"info": 1, "warning": 3, "high": 4, "critical": 5}
OCSF_VERSION = "1.3.0"  # the released schema our API Activity events follow (metadata.version)
# The longest CEF extension value we send: ArcSight's dictionary caps msg/cs* at 4000 chars.
CEF_VALUE_MAX = 4000


# --- CEF -------------------------------------------------------------------------------------


def cef_header_escape(text: str) -> str:
    """A header field: `\\` and `|` escaped; a line break would end the record, so a space."""
    text = str(text).replace("\\", "\\\\").replace("|", "\\|")
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def cef_value_escape(text: str) -> str:
    """An extension value: `\\`, `=` escaped, line breaks as `\\n` / `\\r` (`|` stays)."""
    text = str(text)[:CEF_VALUE_MAX].replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


def cef_line(
    signature_id: str, name: str, severity: int, extension: list[tuple[str, object]]
) -> str:
    """`CEF:0|vendor|product|version|signature|name|severity|k=v ...`; empty values left out."""
    header = "|".join(
        cef_header_escape(part)
        for part in (
            CEF_VENDOR,
            CEF_PRODUCT,
            settings.CONSOLE_VERSION,
            signature_id or "unknown",
            name or signature_id or "unknown",
            max(0, min(10, int(severity))),
        )
    )
    pairs = " ".join(
        f"{key}={cef_value_escape(value)}"
        for key, value in extension
        if value is not None and value != ""
    )
    return f"CEF:0|{header}|{pairs}"


def epoch_ms(value) -> int | None:
    """A datetime or ISO 8601 text as milliseconds since the epoch (CEF rt, OCSF time)."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


# --- Findings --------------------------------------------------------------------------------


def console_url(path: str) -> str:
    return settings.CONSOLE_BASE_URL.rstrip("/") + path


def finding_url(finding_id) -> str:
    """The finding's page in the console (its list filtered to it until the page exists)."""
    for name in ("findings:finding_detail", "inventory:finding_detail"):
        try:
            return console_url(reverse(name, args=[finding_id]))
        except NoReverseMatch:
            continue
    return console_url(f"/inventory/flags/?id={finding_id}")


def finding_document(finding) -> dict:
    """One finding (a model instance) as the JSON every wire carries."""
    return {
        "id": finding.pk,
        "kind": finding.kind,
        "severity": finding.severity,
        "status": finding.status,
        "summary": finding.summary,
        "object_type": finding.object_type,
        "object_id": finding.object_id,
        "object_repr": finding.object_repr,
        "times_raised": finding.times_raised,
        "raised_at": finding.raised_at.isoformat() if finding.raised_at else None,
        "last_raised_at": finding.last_raised_at.isoformat() if finding.last_raised_at else None,
        "url": finding_url(finding.pk),
    }


def findings_body(
    event_type: str, findings: list[dict], *, labels: dict | None = None, count: int | None = None
) -> dict:
    """The document a webhook receives ({type, timestamp, data}, as Standard Webhooks suggests):
    the group's labels, how many findings it holds (more than are listed after a storm) and the
    findings listed."""
    return {
        "type": event_type,
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {
            "labels": labels or {},
            "count": len(findings) if count is None else count,
            "findings": findings,
        },
    }


def body_findings(body: dict) -> list[dict]:
    """The findings a message body lists (none for a test message)."""
    data = body.get("data") if isinstance(body, dict) else None
    findings = data.get("findings") if isinstance(data, dict) else None
    return [f for f in findings or [] if isinstance(f, dict)]


def finding_cef(finding: dict) -> str:
    """One CEF line for one finding (a `finding_document`)."""
    obj = finding.get("object_repr") or f"{finding.get('object_type')}:{finding.get('object_id')}"
    return cef_line(
        finding.get("kind", ""),
        finding.get("summary", ""),
        CEF_SEVERITY.get(finding.get("severity"), 5),
        [
            ("rt", epoch_ms(finding.get("last_raised_at"))),
            ("externalId", finding.get("id")),
            ("cs1Label", "object"),
            ("cs1", obj),
            ("cs2Label", "status"),
            ("cs2", finding.get("status")),
            ("msg", finding.get("summary")),
            ("cnt", finding.get("times_raised")),
            ("request", finding.get("url")),
        ],
    )


def message_cef_lines(message) -> list[str]:
    """The CEF lines of an OutgoingMessage: one per finding, or one naming the message itself
    (a test message, or a group that lists no finding)."""
    findings = body_findings(message.body)
    if findings:
        return [finding_cef(f) for f in findings]
    return [
        cef_line(
            message.event_type,
            message.subject,
            CEF_SEVERITY.get(message.severity, 3),
            [
                ("rt", int((message.timestamp or datetime.now(UTC).timestamp()) * 1000)),
                ("externalId", message.idempotency_key),
                ("msg", message.subject),
            ],
        )
    ]


def message_text(message) -> str:
    """The plain-text email body: the subject, then each finding with its link."""
    findings = body_findings(message.body)
    lines = [message.subject, ""]
    data = message.body.get("data") if isinstance(message.body, dict) else None
    count = data.get("count") if isinstance(data, dict) else None
    if count and count > len(findings):
        lines += [f"{count} findings in this group; the first {len(findings)}:", ""]
    for finding in findings:
        lines += [
            f"[{finding.get('severity', '')}] {finding.get('summary', '')}",
            f"  rule: {finding.get('kind', '')}   object: {finding.get('object_repr', '')}"
            f"   seen {finding.get('times_raised', 1)} times",
            f"  {finding.get('url', '')}",
            "",
        ]
    if not findings:
        lines.append("A test message from the MCP governance console: this destination works.")
    lines += ["", f"-- {console_url('/')}", f"Delivery id: {message.idempotency_key}"]
    return "\n".join(lines)


# --- Audit events ----------------------------------------------------------------------------

# The stored event's columns as the explorer's NDJSON export gives them: the canonical columns
# the chain hashes, less the row id (internal).
EVENT_FIELDS = tuple(column for column in CANON_COLUMNS if column != "id")


def _iso(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value


def canonical_event(event: dict) -> dict:
    """The stored event as JSON data: its columns, times as RFC 3339 UTC with milliseconds."""
    return {key: _iso(event.get(key)) for key in EVENT_FIELDS if key in event}


def _failed(event: dict) -> bool:
    return str(event.get("outcome") or "").lower() in ("error", "failure", "denied", "failed")


def event_cef(event: dict) -> str:
    """One CEF line for one audit event; externalId is the event id a SIEM dedups on."""
    operation = event.get("method") or event.get("type") or "event"
    return cef_line(
        event.get("type") or "event",
        f"{operation} {event.get('tool') or ''}".strip(),
        7 if _failed(event) else 3,
        [
            ("rt", epoch_ms(event.get("time"))),
            ("externalId", event.get("event_id")),
            ("suser", event.get("actor_subject")),
            ("suid", event.get("actor_issuer")),
            ("app", event.get("client_ref")),
            ("dhost", event.get("server_name")),
            ("act", event.get("method")),
            ("outcome", event.get("outcome")),
            ("cs1Label", "tool"),
            ("cs1", event.get("tool")),
            ("cs2Label", "session"),
            ("cs2", event.get("session_id")),
            ("cs3Label", "task"),
            ("cs3", event.get("task_id")),
            ("cn1Label", "duration_ms"),
            ("cn1", None if event.get("duration_ms") is None else int(event["duration_ms"])),
        ],
    )


# OCSF API Activity's activities: Create 1, Read 2, Update 3, Delete 4, Other 99.
_ACTIVITY_WORDS = (
    (4, "Delete", ("delete", "remove", "revoke", "cancel", "unsubscribe")),
    (1, "Create", ("create", "add", "register", "initialize", "subscribe")),
    (3, "Update", ("update", "set", "change", "patch")),
    (2, "Read", ("list", "get", "read", "search", "fetch")),
)


def ocsf_activity(operation: str) -> tuple[int, str]:
    """(activity_id, activity_name) of an MCP method or event type; tool calls are Other."""
    words = operation.lower().replace("/", " ").replace(".", " ").replace("_", " ").split()
    # "revoked", "deletes", "listed": the verb with -d, -s or -ed
    stems = {stem for word in words for stem in (word, word[:-1], word[:-2])}
    for activity_id, name, verbs in _ACTIVITY_WORDS:
        if stems.intersection(verbs):
            return activity_id, name
    return 99, operation or "Other"


def event_ocsf(event: dict) -> dict:
    """One audit event as an OCSF API Activity (class 6003) event."""
    operation = event.get("method") or event.get("type") or "unknown"
    activity_id, activity_name = ocsf_activity(operation)
    outcome = str(event.get("outcome") or "")
    status_id = 2 if _failed(event) else (1 if outcome else 0)
    document = {
        "class_uid": 6003,
        "class_name": "API Activity",
        "category_uid": 6,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": 6003 * 100 + activity_id,
        "time": epoch_ms(event.get("time")),
        "severity_id": 3 if status_id == 2 else 1,
        "status_id": status_id,
        "status": {0: "Unknown", 1: "Success", 2: "Failure"}[status_id],
        "actor": {
            "user": {"uid": event.get("actor_subject") or "", "type_id": 0},
            "app_uid": event.get("client_ref") or "",
        },
        "api": {
            "operation": operation,
            "service": {"name": event.get("server_name") or ""},
            "request": {"uid": event.get("event_id") or ""},
        },
        # OCSF wants an endpoint; what we know of the caller is its OAuth client id
        "src_endpoint": {"uid": event.get("client_ref") or "unknown"},
        "metadata": {
            "uid": event.get("event_id") or "",
            "version": OCSF_VERSION,
            "product": {
                "name": CEF_PRODUCT,
                "vendor_name": CEF_VENDOR,
                "version": settings.CONSOLE_VERSION,
            },
        },
        "unmapped": {
            "actor_issuer": event.get("actor_issuer"),
            "tool": event.get("tool"),
            "task_id": event.get("task_id"),
            "session_id": event.get("session_id"),
            "source_id": event.get("source_id"),
            "outcome": outcome,
        },
    }
    if event.get("received_at"):
        document["metadata"]["logged_time"] = epoch_ms(event["received_at"])
    if event.get("duration_ms") is not None:
        document["duration"] = int(event["duration_ms"])
    if status_id == 2:
        document["status_detail"] = outcome
    return document


def render_event(event: dict, event_format: str):
    """The event in a destination's `event_format`: a dict (json, ocsf) or a CEF line (cef)."""
    if event_format == "cef":
        return event_cef(event)
    if event_format == "ocsf":
        return event_ocsf(event)
    return canonical_event(event)
