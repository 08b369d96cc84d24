"""Plots of the tensors lens: the singular values of grid-tensor matricizations.

The spectrum of :math:`[\\mathcal{A}]_{I,J}` shows the separation rank as the point where
the singular values fall to rounding level (Cohen & Shashua, ICLR 2017, arXiv 1605.06743).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.errors import param_error
from deepscope.plots._axes import new_axes

__all__ = ["plot_singular_values"]


def plot_singular_values(result: Any, ax: Axes | None = None, *, normalize: bool = True,
                         show_rank: bool = True, floor: float | None = 1e-20
                         ) -> tuple[Figure, Axes]:
    """Singular values of one or several matricizations, descending, on a log axis.

    Args:
        result: a :class:`deepscope.lenses.tensors.SeparationRank`, or a mapping
            ``label -> SeparationRank`` drawn as one line each.
        ax: axes to draw into (default: a new figure).
        normalize: divide by the largest singular value.
        show_rank: mark each rank with a dot on its last counted singular value.
        floor: lower limit of the y axis (rounding noise far below it is cut off);
            ``None`` shows everything.

    Returns:
        ``(fig, ax)``.

    Raises:
        DeepscopeTypeError: ``result`` is not a SeparationRank (or a mapping of them).
    """
    from deepscope.lenses.tensors import SeparationRank

    func = "plot_singular_values"
    items = result.items() if isinstance(result, Mapping) else [(None, result)]
    items = list(items)
    if not items or not all(isinstance(r, SeparationRank) for _, r in items):
        raise param_error("result", func, "a SeparationRank or a mapping of them",
                          type(result).__name__, type_error=True)
    fig, ax = new_axes(ax, (5.0, 3.6), func)
    for label, res in items:
        s = np.asarray(res.singular_values, dtype=np.float64)
        if normalize and len(s) and s[0] > 0:
            s = s / s[0]
        s = np.maximum(s, 1e-300)
        name = label if label is not None else f"rank {res.rank}"
        line, = ax.semilogy(np.arange(1, len(s) + 1), s, ".-", ms=3, lw=1,
                            label=f"{name} (rank {res.rank})" if label is not None else name)
        if show_rank and res.rank > 0:
            ax.semilogy([res.rank], [s[res.rank - 1]], "o", color=line.get_color(), ms=6,
                        mfc="none")
    if floor is not None:
        ax.set_ylim(bottom=floor, top=2.0 if normalize else None)
    ax.set_xlabel("index")
    ax.set_ylabel("singular value / largest" if normalize else "singular value")
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=8)
    return fig, ax
