"""Renderers: a `document.Report` to a file, one module per format. Each module's
`write(report, fileobj, progress=None, *, requested_by="") -> rows written` writes bytes to an
open binary file, iterates each table's rows once (they may be a server-side cursor) and calls
`progress(n)` every few thousand rows with the rows written since its last call."""

from __future__ import annotations

from governance.reports.render import csv, json, pdf, xlsx

WRITERS = {"csv": csv.write, "xlsx": xlsx.write, "json": json.write, "pdf": pdf.write}
EXTENSIONS = {"csv": "csv", "xlsx": "xlsx", "json": "json", "pdf": "pdf"}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "pdf": "application/pdf",
}
