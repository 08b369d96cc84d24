"""Plots of the generalization lens: the margin distribution and the per-layer norms."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepscope.errors import param_error
from deepscope.plots._axes import new_axes

__all__ = ["plot_layer_norms", "plot_margins"]


def plot_margins(result: Any, ax: Any = None, *, bins: int = 50) -> tuple:
    """Histogram of the output margins with the quantile ``gamma`` marked.

    Args:
        result: A :class:`deepscope.lenses.generalization.Margin`.
        ax: Axes to draw into (a new figure when ``None``).
        bins: Histogram bins.

    Returns:
        ``(fig, ax)``.
    """
    func = "plot_margins"
    margins = getattr(result, "margins", None)
    if margins is None:
        raise param_error("result", func, "a generalization.Margin result",
                          type(result).__name__, type_error=True)
    fig, ax = new_axes(ax, (5.0, 3.5), func)
    m = np.asarray(margins, dtype=float)
    ax.hist(m, bins=bins, color="C0", alpha=0.8)
    ax.axvline(result.value, color="C3", ls="--",
               label=f"γ = q{result.quantile:g} = {result.value:.3g}")
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set(xlabel="output margin f(x)_y − max_j≠y f(x)_j", ylabel="samples")
    ax.legend(fontsize=8)
    return fig, ax


def plot_layer_norms(result: Any, ax: Any = None) -> tuple:
    """Per-layer norms on a log scale: a Frobenius or Spectral result (conv operator norms
    drawn beside the reshaped-kernel norms when present).

    Args:
        result: A :class:`~deepscope.lenses.generalization.Frobenius` or
            :class:`~deepscope.lenses.generalization.Spectral` result.
        ax: Axes to draw into (a new figure when ``None``).

    Returns:
        ``(fig, ax)``.
    """
    func = "plot_layer_norms"
    layers = getattr(result, "layers", None)
    norms = getattr(result, "norms", None)
    if layers is None or norms is None:
        raise param_error("result", func, "a generalization.Frobenius or Spectral result",
                          type(result).__name__, type_error=True)
    fig, ax = new_axes(ax, (max(4.0, 0.6 * len(layers) + 2), 3.5), func)
    x = np.arange(len(layers))
    ops = getattr(result, "operator_norms", None)
    width = 0.4 if ops is not None else 0.8
    ax.bar(x - (width / 2 if ops is not None else 0), norms, width, label=result.lens.split(".")[1])
    if ops is not None:
        ax.bar(x + width / 2, np.nan_to_num(ops, nan=0.0), width, label="operator norm")
    ax.set_xticks(x, [str(n) for n in layers], rotation=45, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("norm")
    ax.legend(fontsize=8)
    return fig, ax
