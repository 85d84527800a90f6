"""CSV: the report's primary table, UTF-8 with a BOM (so Excel reads it as UTF-8), every text
cell neutralised against formula injection (compliance-siem.md A4), streamed row by row."""

from __future__ import annotations

import csv
import io

from governance.reports.document import Report
from governance.reports.render.cells import as_text, counted, neutralise, primary_table

NUMERIC = ("int", "float")


def write(report: Report, fileobj, progress=None, *, requested_by: str = "") -> int:
    """Write the primary table (a report without one: its figures as label, value)."""
    text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", newline="", write_through=False)
    try:
        writer = csv.writer(text)
        table = primary_table(report)
        if table is None:
            writer.writerow(["Figure", "Value"])
            items = [item for s in report.sections if hasattr(s, "items") for item in s.items]
            writer.writerows((neutralise(as_text(k)), neutralise(as_text(v))) for k, v in items)
            return len(items)
        writer.writerow([neutralise(column.label) for column in table.columns])
        numeric = [column.kind in NUMERIC for column in table.columns]
        written = 0
        for row in counted(table.rows, progress):
            writer.writerow(
                [
                    value
                    if is_number and isinstance(value, (int, float))
                    else neutralise(as_text(value))
                    for value, is_number in zip(row, numeric, strict=False)
                ]
            )
            written += 1
        return written
    finally:
        text.flush()
        text.detach()  # the caller owns (and closes) the file
