"""Console message ids of one area; ``messages.MESSAGE_IDS`` joins them.

The dashboard's ECharts page (``static/dashboard.js``): chart titles, tooltips, the toolbox
and each chart's text summary for screen readers.
"""

from __future__ import annotations

from handlers.i18n import N_

MESSAGE_IDS: tuple[str, ...] = (
    N_("console.dashboard.satisfaction"),
    N_("console.dashboard.heatmap"),
    N_("console.chart.save"),
    N_("console.chart.data"),
    N_("console.chart.week"),
    N_("console.chart.total"),
    N_("console.chart.tickets"),
    N_("console.chart.stars"),
    N_("console.chart.rated"),
    N_("console.chart.attended"),
    N_("console.chart.building"),
    N_("console.chart.unplaced"),
    N_("console.chart.voted"),
    N_("console.chart.missing"),
    N_("console.chart.summary.complaints"),
    N_("console.chart.summary.resolve"),
    N_("console.chart.summary.satisfaction"),
    N_("console.chart.summary.votes"),
    N_("console.chart.summary.hours"),
    N_("console.chart.summary.heatmap"),
    N_("console.chart.summary.empty"),
)
