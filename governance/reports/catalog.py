"""The report kinds and their builders: KIND -> build(params) -> document.Report.

params: {"period_start": datetime | None, "period_end": datetime | None, plus the kind's own
filters (e.g. "campaign_id", "idp", "status")}. Builders live in governance/reports/kinds/.
"""

from __future__ import annotations

BUILDERS: dict = {}  # filled by governance/reports/kinds (issue 16 §2)

# The kinds whose builder applies an `idp` filter (the access inventory: that IdP's grants).
IDP_KINDS = frozenset({"access_inventory"})
