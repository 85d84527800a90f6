"""The report kinds and their builders: KIND -> build(params) -> document.Report.

params: {"period_start": datetime | None, "period_end": datetime | None, plus the kind's own
filters (e.g. "campaign_id", "idp", "status")}. Builders live in governance/reports/kinds/.
"""

from __future__ import annotations

BUILDERS: dict = {}  # filled by governance/reports/kinds (issue 16 §2)
# KIND -> the filters its builder applies besides the period, filled alongside BUILDERS. A
# request carrying any other is refused: recorded on the file yet not applied, a filter would
# make the report claim what it does not show.
FILTERS: dict[str, frozenset[str]] = {}
