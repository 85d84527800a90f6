"""Explorer reads: filtered events with keyset pagination, and streamed exports.

Keyset on (time, id) descending, served by the primary key index of every partition, so the
100,000th page costs what the first does. The cursor is the last row's (time, id).
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from audit.models import AuditEvent
from governance.access.lists.export import spreadsheet_cell
from inventory import queries_names

FILTERS = {  # query parameter -> column
    "source": "source_id",
    "issuer": "actor_issuer",
    "identity": "actor_subject",
    "client": "client_ref",
    "server": "server_name",
    "method": "method",
    "tool": "tool",
    "outcome": "outcome",
    "task": "task_id",
    "type": "type",
    "session": "session_id",
}
LIST_COLUMNS = [
    "id",
    "time",
    "source_id",
    "event_id",
    "type",
    "actor_issuer",
    "actor_subject",
    "client_ref",
    "server_name",
    "method",
    "tool",
    "task_id",
    "outcome",
    "duration_ms",
    "redacted",
]
EXPORT_COLUMNS = [c for c in LIST_COLUMNS if c != "id"]
# The explorer's quick ranges: `?range=24h` is "since 24 hours ago" (an explicit `since` wins).
QUICK_RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
# Filters that take a name as well as the key events carry: an identity's e-mail or display
# name, a client's name, a server's title (resolved through the inventory).
NAMED = ("identity", "client", "server")


class FilterError(ValueError):
    """A filter value we cannot use; the message names the parameter."""


def _parse_time(name: str, value: str) -> datetime:
    try:
        # An unencoded "+02:00" arrives as " 02:00" in a query string.
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+") if "T" in value else value)
    except ValueError:
        raise FilterError(f"{name}: not an ISO 8601 date or timestamp") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    # In UTC: PostgreSQL refuses offsets past 15:59 that Python accepts ("+18:34" was a 500),
    # and a time that leaves Python's years 1-9999 in UTC is no time an event can have.
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise FilterError(f"{name}: out of range") from None


def _since(params) -> datetime | None:
    if params.get("since"):
        return _parse_time("since", params["since"])
    quick = (params.get("range") or "").strip()
    if not quick:
        return None
    if quick not in QUICK_RANGES:
        raise FilterError(f"range: one of {', '.join(QUICK_RANGES)}")
    return timezone.now() - QUICK_RANGES[quick]


def _named(name: str, value: str) -> tuple[Q, list]:
    """The events a typed identity, client or server means, and the inventory keys the name
    resolved to: events match the value as their key, or any object so named."""
    if name == "identity":
        pairs = queries_names.identity_keys_named(value)
        match = Q(actor_subject=value)
        for issuer, subject in pairs:
            match |= Q(actor_issuer=issuer, actor_subject=subject)
        return match, pairs
    if name == "client":
        keys = queries_names.client_ids_named(value)
        return Q(client_ref__in=sorted({value, *keys})), keys
    keys = queries_names.server_names_named(value)
    return Q(server_name__in=sorted({value, *keys})), keys


@dataclass
class EventFilter:
    """The explorer's filters, parsed from query parameters. `equals` holds the columns matched
    exactly; `named` the identity, client and server filters resolved from names, and
    `resolved` how many inventory objects each name stood for."""

    since: datetime | None = None
    until: datetime | None = None
    equals: dict | None = None
    text: str = ""
    named: dict[str, Q] = field(default_factory=dict)
    resolved: dict[str, int] = field(default_factory=dict)
    server_names: list[str] | None = None  # the server filter's names (the rollups have them)

    @classmethod
    def from_params(cls, params) -> EventFilter:
        since = _since(params)
        until = _parse_time("until", params["until"]) if params.get("until") else None
        equals, named, resolved, server_names = {}, {}, {}, None
        for name, column in FILTERS.items():
            value = (params.get(name) or "").strip()[:1000]
            if not value:
                continue
            # ASCII digits that fit a bigint: "²".isdigit() is true but int("²") fails.
            if name == "source" and not (value.isascii() and value.isdigit() and len(value) <= 19):
                raise FilterError("source: must be a source id")
            if name in NAMED:
                named[name], keys = _named(name, value)
                resolved[name] = len(keys)
                if name == "server":
                    server_names = sorted({value, *keys})
            else:
                equals[column] = value
        return cls(
            since=since,
            until=until,
            equals=equals,
            text=(params.get("q") or "").strip()[:200],
            named=named,
            resolved=resolved,
            server_names=server_names,
        )

    def queryset(self):
        rows = AuditEvent.objects.all()
        if self.since:
            rows = rows.filter(time__gte=self.since)
        if self.until:
            rows = rows.filter(time__lt=self.until)
        if self.equals:
            rows = rows.filter(**self.equals)
        for match in self.named.values():
            rows = rows.filter(match)
        if self.text:
            rows = rows.annotate(payload_text=Cast("payload", TextField())).filter(
                payload_text__icontains=self.text
            )
        return rows.order_by("-time", "-id")


def encode_cursor(row) -> str:
    raw = f"{row['time'].isoformat()}|{row['id']}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, pk = raw.rsplit("|", 1)
        # Cursors come back from clients: the time is checked like a `since` ("+18:34" was a 500).
        return _parse_time("cursor", when), int(pk)
    except (ValueError, UnicodeDecodeError):
        raise FilterError("cursor: not a cursor this page produced") from None


def events_page(event_filter: EventFilter, *, cursor: str | None = None, size: int = 50):
    """(rows, next cursor or None): one page, newest first."""
    rows = event_filter.queryset()
    if cursor:
        when, pk = decode_cursor(cursor)
        rows = rows.filter(Q(time__lt=when) | Q(time=when, id__lt=pk))
    page = list(rows.values(*LIST_COLUMNS)[: size + 1])
    more = len(page) > size
    page = page[:size]
    return page, (encode_cursor(page[-1]) if more and page else None)


def _batches(event_filter: EventFilter, with_payload: bool, chunk: int = 2000):
    """Every matching row, newest first, fetched by keyset chunks (constant memory)."""
    columns = EXPORT_COLUMNS + ["id"] + (["payload"] if with_payload else [])
    rows = event_filter.queryset()
    last = None
    while True:
        page = rows
        if last:
            page = rows.filter(Q(time__lt=last[0]) | Q(time=last[0], id__lt=last[1]))
        batch = list(page.values(*columns)[:chunk])
        if not batch:
            return
        last = (batch[-1]["time"], batch[-1]["id"])
        yield batch


def export_csv(event_filter: EventFilter):
    """CSV lines of the filtered events (payload not included: it is one JSON per row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()
    for batch in _batches(event_filter, with_payload=False):
        buffer.seek(0)
        buffer.truncate()
        for row in batch:
            writer.writerow([spreadsheet_cell(row[c]) for c in EXPORT_COLUMNS])
        yield buffer.getvalue()


def export_ndjson(event_filter: EventFilter, *, with_payload: bool):
    """One JSON object per line; the stored payload included for Auditors and Admins."""
    for batch in _batches(event_filter, with_payload=with_payload):
        lines = []
        for row in batch:
            row.pop("id")
            lines.append(orjson.dumps(row))
        yield b"\n".join(lines) + b"\n"
