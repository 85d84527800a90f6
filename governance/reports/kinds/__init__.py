"""The six report builders (issue 16 §2), registered in governance.reports.catalog.BUILDERS
when this package is imported: KIND -> build(params) -> governance.reports.document.Report."""

from governance.reports import catalog
from governance.reports.kinds import (
    access_inventory,
    activity_evidence,
    campaign,
    findings,
    inventory_risk,
    revocations,
)

catalog.BUILDERS.update(
    {
        access_inventory.KIND: access_inventory.build,
        activity_evidence.KIND: activity_evidence.build,
        revocations.KIND: revocations.build,
        findings.KIND: findings.build,
        inventory_risk.KIND: inventory_risk.build,
        campaign.KIND: campaign.build,
    }
)
catalog.FILTERS.update(
    {
        access_inventory.KIND: access_inventory.FILTERS,
        activity_evidence.KIND: frozenset(),
        revocations.KIND: revocations.FILTERS,
        findings.KIND: findings.FILTERS,
        inventory_risk.KIND: frozenset({"long_running_hours"}),
        campaign.KIND: frozenset({"campaign_id"}),
    }
)
