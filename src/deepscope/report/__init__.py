"""Reports: the self-contained HTML page of a run (``page``) and its SVG chart engine (``chart``)."""

from __future__ import annotations

from deepscope.report.chart import Chart, Series, render_chart
from deepscope.report.page import Figure, build_report

__all__ = ["Chart", "Figure", "Series", "build_report", "render_chart"]
