"""What every renderer shares: a cell as text, the report's tables, the period as words."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

from governance.reports.document import Report, Table

# Rows between two `progress(n)` calls: often enough for a live page, rarely enough to cost
# nothing (the job engine throttles its own writes to one a second anyway).
PROGRESS_EVERY = 2000

# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV Injection":
# = + - @ tab CR; defusedcsv adds | and %, which some spreadsheets also evaluate (DDE)).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def neutralise(text: str) -> str:
    """`text` made inert for a spreadsheet: a leading apostrophe when it could start a formula.

    Unlike defusedcsv we leave the rest of the text as it was (it also escapes every `|`, which
    changes the data an auditor compares) and also cover tab and CR, which it misses.
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def as_text(value) -> str:
    """A cell as the text CSV and PDF show: datetimes in ISO 8601 UTC, lists joined by "; "."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return "; ".join(as_text(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def primary_table(report: Report) -> Table | None:
    """The table a one-table format (CSV) holds: the one the builder named, else the first."""
    if report.primary_table is not None:
        section = report.sections[report.primary_table]
        if isinstance(section, Table):
            return section
    return next((s for s in report.sections if isinstance(s, Table)), None)


def period_text(report: Report) -> str:
    """The period as a reader counts it: whole UTC days with the last day included (the end is
    stored exclusive, the next midnight), else the two timestamps."""
    start, end = report.period_start, report.period_end
    if start is None and end is None:
        return "as of generation"
    if _midnight(start) and _midnight(end):
        last = (end - timedelta(days=1)).date()
        return f"{start.date().isoformat()} to {last.isoformat()} (UTC, both days included)"
    return f"{as_text(start) or '…'} to {as_text(end) or '…'}"


def _midnight(moment: datetime | None) -> bool:
    return (
        moment is not None
        and moment.utcoffset() == timedelta(0)
        and moment.time() == datetime.min.time()
    )


def counted(rows, progress: Callable[[int], None] | None) -> Iterator:
    """Yield `rows`, calling `progress(n)` every PROGRESS_EVERY rows and once at the end."""
    pending = 0
    for row in rows:
        yield row
        pending += 1
        if pending == PROGRESS_EVERY:
            if progress:
                progress(pending)
            pending = 0
    if pending and progress:
        progress(pending)
