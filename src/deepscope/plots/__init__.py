"""Plots of lens results: ``plot_<thing>(result, ax=None, **opts) -> (fig, ax)``.

Plotting is kept apart from measuring: lenses never draw. Every function takes a result
(or its ``.to_frame()`` DataFrame) and an optional matplotlib Axes; without one it makes
a new :class:`matplotlib.figure.Figure` (no pyplot global state) and returns it with the
axes, ready for ``fig.savefig(...)`` or a report.
"""

from __future__ import annotations

from deepscope.plots.information import plot_information_plane, plot_mi_over_epochs

__all__ = ["plot_information_plane", "plot_mi_over_epochs"]
