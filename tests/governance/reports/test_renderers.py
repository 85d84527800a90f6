"""Each renderer writes a file its reader opens: CSV read back with the csv module (formula cells
neutralised), XLSX with openpyxl (no formulas, real dates), JSON parsed, PDF text extracted."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import openpyxl
import pypdf

from governance.reports.render import WRITERS
from governance.reports.render import csv as csv_render
from governance.reports.render.cells import neutralise, period_text
from tests.governance.reports.samples import HOSTILE, sample_report


def _render(fmt: str, rows: int = 30) -> tuple[bytes, int, list[int]]:
    buffer = io.BytesIO()
    calls: list[int] = []
    written = WRITERS[fmt](sample_report(rows), buffer, calls.append, requested_by="alice")
    return buffer.getvalue(), written, calls


def test_csv_has_a_bom_and_every_formula_cell_is_neutralised():
    data, written, progress = _render("csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["Identity", "Client", "Scopes", "Issued", "Uses"]
    assert written == 30 and sum(progress) == 30
    identities = [row[0] for row in rows[1:]]
    assert identities[: len(HOSTILE)] == ["'" + value for value in HOSTILE]
    assert identities[len(HOSTILE)] == "user7@example.com"  # untouched when harmless
    for row in rows[1:]:
        assert not row[0].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert rows[1][1] == "client-0 é" and rows[1][2] == "read; write"
    assert rows[1][3] == "2026-11-03T09:30:00+00:00" and rows[5][4] == "4"


def test_neutralise_leaves_the_rest_of_the_cell_as_it_was():
    assert neutralise("=1|2") == "'=1|2"
    assert neutralise("a=b|c") == "a=b|c"


def test_xlsx_has_a_summary_and_a_sheet_per_table_with_strings_never_formulas():
    data, written, _ = _render("xlsx")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Summary", "Grants"]
    summary = [row for row in book["Summary"].iter_rows(values_only=True)]
    labels = [row[0] for row in summary if row and row[0]]
    assert "Access inventory" in labels and "Control: SOC 2" in labels
    assert ("Parameter: idp", "okta-main") in [row[:2] for row in summary]
    assert ("Grants", 30) in [row[:2] for row in summary]
    sheet = book["Grants"]
    cells = list(sheet.iter_rows(min_row=2, values_only=True))
    assert written == 30 and len(cells) == 30
    # Kept verbatim, as text (xlsxwriter stores CR as Excel's escape _x000D_, which Excel
    # decodes and openpyxl's inline-string reader does not).
    identities = [row[0].replace("_x000D_", "\r") for row in cells[: len(HOSTILE)]]
    assert identities == HOSTILE
    for row in sheet.iter_rows(min_row=2):
        assert row[0].data_type == "s"  # a string, never a formula ("f")
    assert isinstance(cells[0][3], datetime) and cells[0][3].hour == 9
    assert cells[4][4] == 4


def test_json_is_one_document_with_metadata_and_every_row():
    data, written, _ = _render("json", rows=2500)
    document = json.loads(data)
    assert document["report"]["kind"] == "access_inventory"
    assert document["report"]["requested_by"] == "alice"
    assert document["report"]["chain_head"]["seq"] == 42
    types = [section["type"] for section in document["sections"]]
    assert types == ["figures", "chart", "chart", "table"]
    table = document["sections"][3]
    assert written == len(table["rows"]) == 2500
    assert table["rows"][0]["identity"] == HOSTILE[0]
    assert table["rows"][0]["issued"] == "2026-11-03T09:30:00+00:00"


def test_pdf_has_a_cover_charts_and_every_row_on_numbered_pages():
    data, written, _ = _render("pdf", rows=400)
    pdf = pypdf.PdfReader(io.BytesIO(data))
    pages = [page.extract_text() for page in pdf.pages]
    assert written == 400
    assert 6 <= len(pdf.pages) <= 20
    cover = pages[0]
    for expected in ("Access inventory", "2026-11-01", "alice", "okta-main", "CC6.2", "SHA-256"):
        assert expected in cover
    assert "abab" in cover  # the chain head's digest
    text = "\n".join(pages)
    assert "Grants by client" in text and "Grants per day" in text
    assert "user399@example.com" in text and "400 rows" in text
    assert f"Page {len(pages)}" in pages[-1]
    assert sum("Identity" in page for page in pages[2:]) >= len(pages) - 3  # header repeats


def test_a_period_of_whole_days_reads_as_its_first_and_last_day():
    report = sample_report(1)
    report.period_start = datetime(2026, 9, 1, tzinfo=UTC)
    report.period_end = datetime(2026, 12, 1, tzinfo=UTC)  # exclusive: the next midnight
    assert period_text(report) == "2026-09-01 to 2026-11-30 (UTC, both days included)"


def test_the_csv_row_converter_writes_what_each_cells_converter_writes():
    kinds = ["text", "int", "float", "datetime", "list"]
    slow = [csv_render.CONVERTERS.get(kind, csv_render._text) for kind in kinds]
    when = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    rows = [
        ("plain", 3, 1.5, when, ["a", "b"]),
        ("=HYPERLINK(1)", True, "-2", None, ["+x", 1]),
        (None, "@cmd", None, "2026-11-30", "|pipe"),
        ("", -4, float("nan"), when.date(), []),
        (5, None, 0.0, "\tTAB", ("=a",)),
    ]
    convert = csv_render.row_converter(kinds)
    for row in rows:
        assert convert(row) == [c(v) for c, v in zip(slow, row, strict=True)], row
    assert convert(("short",)) == ["short"]  # a row of another length: cell by cell
