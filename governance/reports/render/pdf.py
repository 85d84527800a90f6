"""PDF (reportlab, pure Python): a cover page (title, period, generated at and by, parameters,
controls, the integrity chain's head and how to check the file's SHA-256), then each section:
figures as a two-column table, charts drawn with reportlab.graphics, tables with their header
repeated on every page; every page carries the title and its number.

A PDF is for reading: a table longer than MAX_TABLE_ROWS stops there and says so (the CSV, XLSX
and JSON files hold every row)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A3, A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as PdfTable

from governance.reports.document import Chart, Figures, Report, Table
from governance.reports.render.cells import as_text, counted, period_text
from governance.reports.render.pdf_charts import chart_drawing

MAX_TABLE_ROWS = 10_000
# Rows per platypus Table: reportlab splits a long table across pages by re-measuring what is
# left, so one 1,000-row table costs far more than ten of 100 (each still repeats its header).
CHUNK_ROWS = 100
# Column widths, in characters of the 7-point table font (CHAR_WIDTH points each, on average):
# each column gets its sample's average length, within these bounds.
MIN_CHARS, MAX_CHARS, CHAR_WIDTH = 7, 34, 3.6
# Landscape A4; a report with a table of more than WIDE_TABLE columns (the access inventory has
# 18) is laid out on landscape A3, so its rows stay a line or two high and read on screen.
WIDE_TABLE = 12


def page_size(report: Report) -> tuple[float, float]:
    widest = max((len(s.columns) for s in report.sections if isinstance(s, Table)), default=0)
    return landscape(A3) if widest > WIDE_TABLE else landscape(A4)


STYLES = getSampleStyleSheet()
CELL = STYLES["BodyText"].clone("cell", fontSize=7, leading=8.5)
SMALL = STYLES["BodyText"].clone("small", fontSize=8.5, leading=11)
TABLE_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 7),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf1")),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#c9d1db")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
)


def write(report: Report, fileobj, progress=None, *, requested_by: str = "") -> int:
    """Write the PDF; returns the table rows written."""
    page = page_size(report)
    doc = SimpleDocTemplate(
        fileobj,
        pagesize=page,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=report.title,
        author=requested_by or "MCP Governance Console",
        subject=period_text(report),
    )
    story = _cover(report, requested_by)
    written = 0
    for section in report.sections:
        if isinstance(section, Figures):
            story += _figures(section)
        elif isinstance(section, Chart):
            story += _chart(section, doc.width)
        else:
            flowables, rows = _table(section, doc.width, progress)
            story += flowables
            written += rows

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(12 * mm, 7 * mm, f"{report.title} · {period_text(report)}"[:150])
        canvas.drawRightString(page[0] - 12 * mm, 7 * mm, f"Page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return written


def _p(text, style=SMALL) -> Paragraph:
    return Paragraph(escape(as_text(text)), style)


def _controls_text(controls) -> str:
    return "; ".join(f"{c.framework} {c.ref} ({c.title})" for c in controls)


def _cover(report: Report, requested_by: str) -> list:
    lines = [
        ("Period", period_text(report)),
        ("Generated at (UTC)", as_text(report.generated_at)),
        ("Requested by", requested_by or "—"),
    ]
    lines += [(f"Parameter: {key}", as_text(value)) for key, value in report.parameters.items()]
    if report.chain_head:
        head = report.chain_head
        lines.append(
            ("Integrity chain head", f"seq {head.get('seq')}, digest {head.get('digest')}")
        )
    rows = [[_p(label), _p(value)] for label, value in lines]
    controls = [[_p(f"{c.framework} {c.ref}"), _p(c.title)] for c in report.controls] or [
        [_p("—"), _p("")]
    ]
    return [
        Spacer(1, 25 * mm),
        Paragraph(escape(report.title), STYLES["Title"]),
        Spacer(1, 8 * mm),
        PdfTable(rows, colWidths=[60 * mm, 180 * mm], style=TABLE_STYLE, hAlign="LEFT"),
        Spacer(1, 6 * mm),
        Paragraph("Controls this report evidences", STYLES["Heading3"]),
        PdfTable(controls, colWidths=[60 * mm, 180 * mm], style=TABLE_STYLE, hAlign="LEFT"),
        Spacer(1, 6 * mm),
        _p(
            "Integrity: the console records this file's SHA-256 digest, size and parameters "
            "when it makes it. Run `python manage.py verify_report FILE` to recompute the "
            "digest, find that record, and check that the chain head named above is still on "
            "the audit log's integrity chain."
        ),
        PageBreak(),
    ]


def _heading(section) -> list:
    out = [Paragraph(escape(section.title), STYLES["Heading2"])]
    if section.controls:
        out.append(_p(f"Evidences: {_controls_text(section.controls)}"))
    if section.note:
        out.append(_p(section.note))
    return out


def _figures(section: Figures) -> list:
    rows = [[_p(label), _p(value)] for label, value in section.items] or [[_p("—"), _p("")]]
    table = PdfTable(rows, colWidths=[90 * mm, 90 * mm], style=TABLE_STYLE, hAlign="LEFT")
    return [KeepTogether([*_heading(section), table]), Spacer(1, 4 * mm)]


def _chart(section: Chart, width: float) -> list:
    return [KeepTogether([*_heading(section), chart_drawing(section, width)]), Spacer(1, 4 * mm)]


def _pdf_text(value) -> str:
    """A cell as the PDF shows it: datetimes as "YYYY-MM-DD HH:MM:SS" in UTC (the header says
    UTC), the rest as the other formats write it."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M:%S")
    return as_text(value)


def _column_widths(columns, sample: list[list[str]], width: float) -> list[float]:
    """Widths from what the columns hold: the average length of the first rows' texts (a
    header word at least), clamped so that no column starves the others."""
    weights = []
    for index, column in enumerate(columns):
        lengths = [len(row[index]) for row in sample] or [0]
        longest_word = max((len(word) for word in column.label.split()), default=4)
        average = sum(lengths) / len(lengths)
        weights.append(min(max(average, longest_word, MIN_CHARS), MAX_CHARS))
    total = sum(weights)
    return [width * w / total for w in weights]


def _cells(texts: list[str], capacities: list[int]) -> list:
    """Plain strings where they fit their column (cheap), wrapping Paragraphs where not."""
    return [
        text if len(text) <= fits else Paragraph(escape(text), CELL)
        for text, fits in zip(texts, capacities, strict=False)
    ]


def _table(section: Table, width: float, progress) -> tuple[list, int]:
    flowables = _heading(section)
    header = [
        Paragraph(f"<b>{escape(c.label)}{' (UTC)' if c.kind == 'datetime' else ''}</b>", CELL)
        for c in section.columns
    ]
    rows = counted(section.rows, progress)
    # The first chunk's texts decide the column widths (then they are laid out like the rest).
    first = [[_pdf_text(v) for v in row] for row in itertools.islice(rows, CHUNK_ROWS)]
    widths = _column_widths(section.columns, first, width)
    capacities = [int((w - 4) / CHAR_WIDTH) for w in widths]
    chunk = [_cells(texts, capacities) for texts in first]
    written = len(first)
    truncated = False
    for row in rows:
        if len(chunk) == CHUNK_ROWS:
            flowables.append(_chunk(header, chunk, widths))
            chunk = []
        if written == MAX_TABLE_ROWS:
            truncated = True
            break
        chunk.append(_cells([_pdf_text(v) for v in row], capacities))
        written += 1
    if chunk or not written:
        flowables.append(_chunk(header, chunk, widths))
    total = section.row_count if section.row_count is not None else written
    summary = (
        f"{written:,} rows"
        if not truncated
        else f"The first {written:,} rows of {total:,}: the CSV, XLSX and JSON files hold them all."
    )
    flowables += [_p(summary), Spacer(1, 4 * mm)]
    return flowables, written


def _chunk(header, rows, widths) -> PdfTable:
    return PdfTable(
        [header, *rows], colWidths=widths, repeatRows=1, style=TABLE_STYLE, hAlign="LEFT"
    )
