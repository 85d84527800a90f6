"""Reports built in the tests (no database): what a builder returns, with hostile cells."""

from __future__ import annotations

from datetime import UTC, datetime

from governance.reports.document import Chart, Column, Control, Figures, Report, Table

SOC2 = Control("SOC 2", "CC6.2", "Access is authorised and reviewed")
ISO = Control("ISO/IEC 27001:2022", "A.5.18", "Access rights")
HOSTILE = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "|pipe"]
COLUMNS = [
    Column("identity", "Identity"),
    Column("client", "Client"),
    Column("scopes", "Scopes", "list"),
    Column("issued", "Issued", "datetime"),
    Column("uses", "Uses", "int"),
]
ISSUED = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def grant_rows(n: int):
    """`n` grant rows as a one-shot generator (like a server-side cursor)."""
    for i in range(n):
        name = HOSTILE[i] if i < len(HOSTILE) else f"user{i}@example.com"
        yield (name, f"client-{i % 17} é", ["read", "write"], ISSUED, i)


def sample_report(rows: int = 30, *, chain_head: dict | None = None) -> Report:
    return Report(
        kind="access_inventory",
        title="Access inventory",
        generated_at=datetime(2026, 12, 5, 12, 0, tzinfo=UTC),
        period_start=datetime(2026, 11, 1, tzinfo=UTC),
        period_end=datetime(2026, 12, 1, tzinfo=UTC),
        parameters={"idp": "okta-main"},
        controls=[SOC2, ISO],
        sections=[
            Figures("Totals", [("Grants", rows), ("Identities", 12)], controls=[SOC2]),
            Chart("Grants by client", "bar", ["a", "b", "c"], {"active": [3, 5, 1]}),
            Chart("Grants per day", "line", ["d1", "d2", "d3"], {"issued": [1, 4, 2]}),
            Table("Grants", COLUMNS, grant_rows(rows), controls=[ISO], row_count=rows),
        ],
        chain_head=chain_head or {"seq": 42, "digest": "ab" * 32},
        primary_table=3,
    )
