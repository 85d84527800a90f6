"""JSON: one document, {"report": metadata, "sections": [...]}, streamed: a table's rows are
written as they come (one object per row, keyed by column), so memory stays flat."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

import orjson

from governance.reports.document import Chart, Figures, Report, Table
from governance.reports.render.cells import counted

FORMAT_VERSION = 1


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def _dumps(value) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def metadata(report: Report, requested_by: str = "") -> dict:
    """The report's own facts, as JSON data (the file's "report" object)."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": report.kind,
        "title": report.title,
        "generated_at": report.generated_at,
        "requested_by": requested_by,
        "period_start": report.period_start,
        "period_end": report.period_end,
        "parameters": report.parameters,
        "controls": [asdict(control) for control in report.controls],
        "chain_head": report.chain_head,
    }


def _section_head(section) -> dict:
    common = {
        "title": section.title,
        "controls": [asdict(control) for control in section.controls],
        "note": section.note,
    }
    if isinstance(section, Figures):
        return {"type": "figures", **common, "items": [[k, v] for k, v in section.items]}
    if isinstance(section, Chart):
        return {
            "type": "chart",
            **common,
            "chart": section.kind,
            "labels": section.labels,
            "series": section.series,
        }
    return {"type": "table", **common, "columns": [asdict(c) for c in section.columns]}


def write(report: Report, fileobj, progress=None, *, requested_by: str = "") -> int:
    """Write the document; returns the table rows written."""
    written = 0
    fileobj.write(b'{"report":' + _dumps(metadata(report, requested_by)) + b',"sections":[')
    for index, section in enumerate(report.sections):
        head = _dumps(_section_head(section))
        if not isinstance(section, Table):
            fileobj.write((b"," if index else b"") + head)
            continue
        # The table's object stays open (its closing brace cut off) while its rows stream in.
        fileobj.write((b"," if index else b"") + head[:-1] + b',"rows":[')
        keys = [column.key for column in section.columns]
        for number, row in enumerate(counted(section.rows, progress)):
            fileobj.write(
                (b",\n" if number else b"\n") + _dumps(dict(zip(keys, row, strict=False)))
            )
            written += 1
        fileobj.write(b"]}")
    fileobj.write(b"]}\n")
    return written
