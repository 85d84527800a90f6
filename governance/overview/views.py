"""The overview dashboard (the landing page) and the governance home page."""

from django.shortcuts import render

from governance.access import charts
from governance.access.roles import VIEWER, role_required
from governance.findings import queries as finding_queries
from governance.overview import queries
from governance.reviews import queries as review_queries
from inventory import queries_protocol
from inventory.models import PROTOCOL_REVISIONS, TASK_EXPIRED, Client, Finding, Grant, Task

TASK_STATUS_LABELS = {**dict(Task.Status.choices), TASK_EXPIRED: "Expired (past TTL)"}


@role_required(VIEWER)
def overview(request):
    """Headline counts, charts and the grants about to expire (a handful of aggregate queries)."""
    top_clients = queries.top_clients_by_active_grants()
    activity = queries.audit_activity()
    return render(
        request,
        "governance/overview.html",
        {
            "activity": activity,
            "chart_events": charts.events_chart(activity["per_hour"]),
            "chart_top_tools": charts.top_tools_chart(activity["top_tools"]),
            "counts": queries.overview_counts(),
            "expiring": queries.grants_expiring_soon(),
            "open_reviews": review_queries.open_campaigns(),
            "starters": queries.tasks_by_starter(),
            "top_clients": top_clients,
            "chart_grants": charts.grants_chart(
                queries.grants_by_status_and_type(), dict(Grant.GrantType.choices)
            ),
            "chart_tasks": charts.tasks_chart(queries.tasks_by_status(), TASK_STATUS_LABELS),
            "chart_registrations": charts.registrations_chart(
                queries.clients_by_registration(), dict(Client.Registration.choices)
            ),
            "chart_top_clients": charts.top_clients_chart(top_clients),
            **_protocol_charts(),
            **_findings_chart(),
        },
    )


def _protocol_charts() -> dict:
    """Negotiated revisions and capability adoption (inventory/queries_protocol.py)."""
    versions, adoption = (
        queries_protocol.negotiated_versions(),
        queries_protocol.capability_adoption(),
    )
    return {
        "protocol_versions": versions,
        "protocol_adoption": any(total for _, _, _, total in adoption),
        "chart_protocol_versions": charts.protocol_versions_chart(versions),
        "chart_capability_adoption": charts.capability_adoption_chart(adoption),
        "minimum_revision": queries_protocol.minimum_revision(),
        "revisions": PROTOCOL_REVISIONS,
    }


def _findings_chart() -> dict:
    """Findings needing attention by severity (governance/findings/queries.py)."""
    counts = finding_queries.severity_counts()
    return {
        "findings_by_severity": list(reversed(counts.items())),  # most severe first
        "findings_attention": sum(counts.values()),
        "chart_findings": charts.severity_chart(counts, dict(Finding.Severity.choices)),
    }


@role_required(VIEWER)
def governance_home(request):
    """Entry point to the governance tools the user's role allows."""
    return render(request, "governance/home.html", {})
