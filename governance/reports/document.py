"""What a report is, independent of its file format (issue 16 §2-3).

A report builder (governance/reports/kinds/<kind>.py, listed in governance/reports/catalog.py)
returns a `Report`: a title, the period, the controls it evidences, and its sections (figures,
charts, tables). The renderers (governance/reports/render/: csv, xlsx, json, pdf) turn any
`Report` into a file; they never query the database themselves. A table's rows may be a
generator over a server-side cursor so a 100,000-grant inventory streams in bounded memory:
renderers iterate it once.

Every figure comes from the same query functions as the pages and the API (tests compare them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Control:
    framework: str  # "SOC 2", "ISO/IEC 27001:2022", "NIST SP 800-53", "PCI DSS 4.0"
    ref: str  # "CC6.2", "A.5.18", "AC-2", "7.2.4"
    title: str


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text, int, float, datetime, list


@dataclass
class Figures:
    title: str
    items: list[tuple[str, object]]  # (label, value)
    controls: list[Control] = field(default_factory=list)
    note: str = ""


@dataclass
class Chart:
    title: str
    kind: str  # "bar", "line"
    labels: list[str]
    series: dict[str, list[float]]
    controls: list[Control] = field(default_factory=list)
    note: str = ""


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: Iterable[tuple]  # one tuple per row, in column order; may be a one-shot generator
    controls: list[Control] = field(default_factory=list)
    note: str = ""
    row_count: int | None = None  # when known up front (progress, the PDF's "N rows")


Section = Figures | Chart | Table


@dataclass
class Report:
    kind: str
    title: str
    generated_at: datetime
    period_start: datetime | None
    period_end: datetime | None
    parameters: dict
    controls: list[Control]
    sections: list[Section]
    # The integrity chain's head when the report was made ({"seq", "digest"}); verify_report
    # checks it is still on the chain.
    chain_head: dict | None = None
    # The table a CSV file holds (CSV is one table): its index in `sections`.
    primary_table: int | None = None
