"""Charts for every app's pages: plotly figures from plain rows (the overview's and audit's
queries), rendered as HTML fragments. No app code: callers pass data and labels in.

The Content-Security-Policy allows no inline script (governance/platform/middleware.py), so a
fragment is not plotly's `to_html` (which embeds one): it is a div carrying the figure's JSON in its
`data-plotly-figure` attribute, and static/js/charts.js draws every such div with the locally
served plotly.js, on page load and after each htmx swap (htmx:load). An attribute rather than a
<script type="application/json"> block because htmx, with allowScriptTags off, removes every
<script> from swapped content.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
from django.utils.html import format_html
from django.utils.safestring import SafeString

# Same hues as the badges in app.css, so a status reads the same on the chart and in a table.
STATUS_COLORS = {
    "active": "#067647",
    "revoked": "#b42318",
    "expired": "#98a2b3",
    "working": "#2453d6",
    "input_required": "#b54708",
    "completed": "#067647",
    "failed": "#b42318",
    "cancelled": "#98a2b3",
}
LAYOUT = {
    "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
    "height": 260,
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": -0.2},
}
CONFIG = {"displayModeBar": False, "responsive": True}


def _html(fig) -> SafeString:
    # The shared layout merged as plain dicts (its keys replace a chart's own, none of which
    # overlap today): plotly's validated update_layout/update_*axes cost two thirds of the
    # overview's chart time (45 -> 15 ms for its six, at ten times the demo; the same JSON).
    figure = fig.to_plotly_json()
    layout = {**figure["layout"], **LAYOUT}
    for axis in ("xaxis", "yaxis"):
        layout[axis] = {**layout.get(axis, {}), "automargin": True}
    figure = pio.to_json(
        {"data": figure["data"], "layout": layout, "config": CONFIG},
        validate=False,
        pretty=False,
        engine="json",
    )
    # format_html escapes the JSON for the attribute: labels (tool names from audit events,
    # client names) cannot end the attribute or the tag.
    return format_html('<div class="plotly-graph-div" data-plotly-figure="{}"></div>', figure)


def grants_chart(rows: list[dict], type_labels: dict[str, str]) -> SafeString:
    """Stacked bars: grants per status, one colour per grant type."""
    statuses = sorted({r["status"] for r in rows})  # lowercase codes read fine here
    fig = go.Figure()
    for grant_type in sorted({r["grant_type"] for r in rows}):
        counts = {r["status"]: r["n"] for r in rows if r["grant_type"] == grant_type}
        fig.add_bar(
            name=type_labels.get(grant_type, grant_type),
            x=statuses,
            y=[counts.get(s, 0) for s in statuses],
        )
    fig.update_layout(barmode="stack")
    return _html(fig)


def tasks_chart(counts: dict[str, int], labels: dict[str, str]) -> SafeString:
    """One bar per task status."""
    fig = go.Figure(
        go.Bar(
            x=[labels.get(s, s) for s in counts],
            y=list(counts.values()),
            marker_color=[STATUS_COLORS.get(s, "#5b6475") for s in counts],
        )
    )
    return _html(fig)


def registrations_chart(counts: dict[str, int], labels: dict[str, str]) -> SafeString:
    """Donut of clients by how they are registered."""
    fig = go.Figure(
        go.Pie(
            labels=[labels.get(k, k) for k in counts],
            values=list(counts.values()),
            hole=0.5,
            sort=False,
        )
    )
    return _html(fig)


def top_clients_chart(clients) -> SafeString:
    """Horizontal bars: clients holding the most active grants."""
    clients = list(reversed(clients))  # plotly draws the first bar at the bottom
    fig = go.Figure(
        go.Bar(
            y=[str(c)[:40] for c in clients],
            x=[c.active_grants for c in clients],
            orientation="h",
            marker_color="#2453d6",
        )
    )
    return _html(fig)


def events_chart(per_hour: list[dict]) -> SafeString:
    """Events per hour with errors/denials overlaid (from the hourly rollups)."""
    hours = [r["hour"] for r in per_hour]
    fig = go.Figure()
    fig.add_scatter(
        x=hours,
        y=[r["events"] for r in per_hour],
        name="events",
        mode="lines",
        line={"color": "#2453d6"},
    )
    fig.add_scatter(
        x=hours,
        y=[r["errors"] for r in per_hour],
        name="errors and denials",
        mode="lines",
        line={"color": "#b42318"},
    )
    return _html(fig)


def top_tools_chart(rows: list[dict]) -> SafeString:
    """Horizontal bars: the most called tools (server / tool)."""
    rows = list(reversed(rows))
    fig = go.Figure(
        go.Bar(
            y=[f"{r['server_name']} / {r['tool']}"[:50] for r in rows],
            x=[r["events"] for r in rows],
            orientation="h",
            marker_color="#067647",
        )
    )
    return _html(fig)


def protocol_versions_chart(rows: list[tuple[str, int]]) -> SafeString:
    """One bar per negotiated MCP revision: how many sessions negotiated it."""
    fig = go.Figure(
        go.Bar(x=[version for version, _ in rows], y=[n for _, n in rows], marker_color="#2453d6")
    )
    fig.update_xaxes(type="category")
    return _html(fig)


def capability_adoption_chart(rows: list[tuple[str, str, int, int]]) -> SafeString:
    """Horizontal bars, one colour per role: the share of clients / servers declaring each
    capability (of those whose declaration has been seen)."""
    fig = go.Figure()
    for role, color in (("client", "#2453d6"), ("server", "#067647")):
        mine = list(reversed([r for r in rows if r[0] == role]))
        fig.add_bar(
            name=f"{role}s",
            y=[f"{role}: {name}" for _, name, _, _ in mine],
            x=[round(100 * n / total) if total else 0 for _, _, n, total in mine],
            text=[f"{n}/{total}" for _, _, n, total in mine],
            orientation="h",
            marker_color=color,
        )
    fig.update_xaxes(range=[0, 100], ticksuffix="%")
    return _html(fig)


# The findings' severities, in the badge colours (app.css .b-info ... .b-critical).
SEVERITY_COLORS = {
    "info": "#2453d6",
    "warning": "#b54708",
    "high": "#d92d20",
    "critical": "#7a271a",
}


def severity_chart(counts: dict[str, int], labels: dict[str, str]) -> SafeString:
    """One bar per severity (least to most severe): the findings that need attention."""
    fig = go.Figure(
        go.Bar(
            x=[labels.get(s, s) for s in counts],
            y=list(counts.values()),
            marker_color=[SEVERITY_COLORS.get(s, "#5b6475") for s in counts],
        )
    )
    return _html(fig)
