"""The axes every plot draws into: the caller's, or a new figure without pyplot state."""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.errors import param_error


def new_axes(ax: Any, figsize: tuple[float, float], func: str,
             projection: str | None = None) -> tuple[Figure, Axes]:
    """``(ax.figure, ax)``, or a new constrained-layout figure with one axes.

    Raises:
        DeepscopeTypeError: ``ax`` is neither None nor a matplotlib Axes.
        DeepscopeValueError: a 3-D plot is asked for on 2-D axes.
    """
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot(projection=projection)
    if not isinstance(ax, Axes):
        raise param_error("ax", func, "a matplotlib Axes or None", type(ax).__name__,
                          type_error=True)
    if projection == "3d" and getattr(ax, "name", "") != "3d":
        raise param_error("ax", func, "a 3-D Axes (projection='3d') or None",
                          type(ax).__name__)
    return ax.figure, ax
