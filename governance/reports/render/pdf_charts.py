"""Charts for the PDF, drawn with reportlab.graphics (vector, no image libraries)."""

from __future__ import annotations

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from governance.reports.document import Chart

HEIGHT = 200
PALETTE = [colors.HexColor(c) for c in ("#2f6db5", "#d9822b", "#3a9d5d", "#b54848", "#7a5cb5")]
MAX_LABELS = 40  # beyond this every nth category label is shown, so they stay readable


def chart_drawing(section: Chart, width: float) -> Drawing:
    """A bar (grouped) or line chart of the section's series over its labels."""
    drawing = Drawing(width, HEIGHT)
    if not section.labels or not section.series:
        drawing.add(String(10, HEIGHT / 2, "No data in this period.", fontSize=9))
        return drawing
    chart = HorizontalLineChart() if section.kind == "line" else VerticalBarChart()
    chart.x, chart.y = 40, 45
    chart.width, chart.height = width - 180, HEIGHT - 65
    names = list(section.series)
    chart.data = [[v or 0 for v in section.series[name]] for name in names]
    step = max(1, len(section.labels) // MAX_LABELS + 1)
    chart.categoryAxis.categoryNames = [
        str(label)[:18] if i % step == 0 else "" for i, label in enumerate(section.labels)
    ]
    chart.categoryAxis.labels.angle = 35 if len(section.labels) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(section.labels) > 8 else "n"
    chart.categoryAxis.labels.fontSize = 6.5
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    for i, _name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        if section.kind == "line":
            chart.lines[i].strokeColor = color
            chart.lines[i].strokeWidth = 1.5
        else:
            chart.bars[i].fillColor = color
            chart.bars[i].strokeColor = None
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = width - 130, HEIGHT - 20
    legend.fontSize = 7.5
    legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], n[:30]) for i, n in enumerate(names)]
    drawing.add(legend)
    return drawing
