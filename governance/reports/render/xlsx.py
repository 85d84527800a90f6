"""XLSX (xlsxwriter, constant memory): a Summary sheet (title, period, parameters, controls,
figures, chart data with native charts) and one sheet per table. Every string is written with
`write_string`, so nothing in the data is ever evaluated as a formula; datetimes are real Excel
dates (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import xlsxwriter

from governance.reports.document import Chart, Figures, Report, Table
from governance.reports.render.cells import as_text, counted, period_text

EXCEL_MAX_ROWS = 1_048_576  # a table longer than a sheet continues on "<name> (2)"
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


def write(report: Report, fileobj, progress=None, *, requested_by: str = "") -> int:
    """Write the workbook; returns the table rows written."""
    book = xlsxwriter.Workbook(
        fileobj,
        {
            "constant_memory": True,  # rows are flushed as written: a 100,000-row sheet is flat
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "remove_timezone": True,
        },
    )
    styles = {
        "bold": book.add_format({"bold": True}),
        "title": book.add_format({"bold": True, "font_size": 14}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
    }
    names: set[str] = set()
    _summary(book, report, requested_by, styles, names)
    written = 0
    for section in report.sections:
        if isinstance(section, Table):
            written += _table(book, section, styles, names, progress)
    book.close()
    return written


def _sheet_name(title: str, names: set[str]) -> str:
    base = SHEET_NAME_BAD.sub(" ", title).strip()[:28] or "Table"
    name, n = base, 2
    while name.lower() in names:
        name, n = f"{base[:24]} ({n})", n + 1
    names.add(name.lower())
    return name


def _cell(sheet, row: int, col: int, value, styles) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, (int, float)):
        sheet.write_number(row, col, value)
    elif isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        sheet.write_datetime(row, col, utc.replace(tzinfo=None), styles["datetime"])
    elif isinstance(value, date):
        sheet.write_datetime(
            row, col, datetime(value.year, value.month, value.day), styles["datetime"]
        )
    else:
        sheet.write_string(row, col, as_text(value))


def _summary(book, report: Report, requested_by: str, styles, names: set[str]) -> None:
    sheet = book.add_worksheet(_sheet_name("Summary", names))
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 60)
    sheet.write_string(0, 0, report.title, styles["title"])
    lines = [
        ("Report", report.kind),
        ("Period", period_text(report)),
        ("Generated at (UTC)", report.generated_at),
        ("Requested by", requested_by),
    ]
    if report.chain_head:
        lines.append(("Integrity chain head", _chain_text(report.chain_head)))
    lines += [(f"Parameter: {key}", value) for key, value in sorted(report.parameters.items())]
    lines += [(f"Control: {c.framework}", f"{c.ref} {c.title}") for c in report.controls]
    row = 2
    for label, value in lines:
        sheet.write_string(row, 0, label, styles["bold"])
        _cell(sheet, row, 1, value, styles)
        row += 1
    for section in report.sections:
        if isinstance(section, Figures):
            row = _figures(sheet, row + 1, section, styles)
        elif isinstance(section, Chart):
            row = _chart(book, sheet, row + 1, section, styles)


def _chain_text(head: dict) -> str:
    return f"seq {head.get('seq')} digest {head.get('digest')}"


def _figures(sheet, row: int, section: Figures, styles) -> int:
    sheet.write_string(row, 0, section.title, styles["bold"])
    row += 1
    for label, value in section.items:
        sheet.write_string(row, 0, as_text(label))
        _cell(sheet, row, 1, value, styles)
        row += 1
    return row


def _chart(book, sheet, row: int, section: Chart, styles) -> int:
    """The chart's data as a small table on the Summary sheet, and a native chart beside it."""
    sheet.write_string(row, 0, section.title, styles["bold"])
    first = row + 1
    series_names = list(section.series)
    for col, name in enumerate(series_names, start=1):
        sheet.write_string(first, col, name, styles["bold"])
    for i, label in enumerate(section.labels, start=1):
        sheet.write_string(first + i, 0, as_text(label))
        for col, name in enumerate(series_names, start=1):
            values = section.series[name]
            if i - 1 < len(values) and values[i - 1] is not None:
                sheet.write_number(first + i, col, values[i - 1])
    last = first + len(section.labels)
    if section.labels and series_names:
        chart = book.add_chart({"type": "line" if section.kind == "line" else "column"})
        for col, name in enumerate(series_names, start=1):
            chart.add_series(
                {
                    "name": name,
                    "categories": [sheet.name, first + 1, 0, last, 0],
                    "values": [sheet.name, first + 1, col, last, col],
                }
            )
        chart.set_title({"name": section.title})
        sheet.insert_chart(first, len(series_names) + 2, chart)
        last = max(last, first + 15)  # the chart's height in rows, so the next one doesn't overlap
    return last + 1


def _table(book, section: Table, styles, names: set[str], progress) -> int:
    written = 0
    sheet = None
    row = 0
    for values in counted(section.rows, progress):
        if sheet is None or row == EXCEL_MAX_ROWS:
            sheet = _table_sheet(book, section, styles, names)
            row = 1
        for col, value in enumerate(values):
            _cell(sheet, row, col, value, styles)
        row += 1
        written += 1
    if sheet is None:
        _table_sheet(book, section, styles, names)
    return written


def _table_sheet(book, section: Table, styles, names: set[str]):
    sheet = book.add_worksheet(_sheet_name(section.title, names))
    for col, column in enumerate(section.columns):
        sheet.write_string(0, col, column.label, styles["bold"])
        sheet.set_column(col, col, 22 if column.kind == "datetime" else 18)
    sheet.freeze_panes(1, 0)
    return sheet
