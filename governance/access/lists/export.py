"""CSV that opens safely in a spreadsheet: the one cell escaping of every export, and streamed
rows that start with a UTF-8 byte-order mark (Excel reads a file without one as the local code
page, so names with accents come out garbled)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

BOM = "\ufeff"
# Spreadsheet formula injection: a cell starting with one of these is evaluated as a formula
# (= + - @) or is a separator trick (tab, carriage return); prefixed with ' it is shown as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value) -> str:
    """A value as a CSV cell a spreadsheet shows and never evaluates (datetimes in ISO 8601)."""
    if isinstance(value, datetime):
        return value.isoformat()
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def csv_stream(
    header: Iterable[str], rows: Iterable[Iterable], *, bom: bool = True
) -> Iterator[str]:
    """CSV text in chunks (a header, then up to 500 rows each): for a StreamingHttpResponse."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if bom:
        buffer.write(BOM)
    writer.writerow(list(header))
    count = 0
    for row in rows:
        writer.writerow([spreadsheet_cell(value) for value in row])
        count += 1
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
