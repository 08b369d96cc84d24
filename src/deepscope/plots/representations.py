"""Plots of the representations lens: CKA heat maps, intrinsic-dimension profiles, probe
accuracies per layer, invariance per layer and 2-D embeddings.

The CKA heat map across layers is the figure of Kornblith et al. (2019, arXiv 1905.00414);
the intrinsic-dimension profile (rising, then falling with depth) that of Ansuini et al.
(2019, arXiv 1905.12784).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.errors import param_error
from deepscope.plots._axes import new_axes

__all__ = ["plot_cka_matrix", "plot_embedding", "plot_intrinsic_dimension", "plot_invariance",
           "plot_probe"]


def plot_cka_matrix(result: Any, ax: Axes | None = None, *, annotate: bool | None = None,
                    cmap: str = "magma", colorbar: bool = True) -> tuple[Figure, Axes]:
    """Heat map of a :class:`~deepscope.lenses.representations.CKAMatrix` (rows: ``layers_a``).

    Args:
        result: A ``CKAMatrix``.
        ax: Axes to draw into (default: a new figure).
        annotate: Write each value in its cell (default: when at most 12 x 12).
        cmap: Matplotlib colormap; the colour scale is fixed to [0, 1].
        colorbar: Add a colour bar.

    Returns:
        ``(fig, ax)``.
    """
    from deepscope.lenses.representations import CKAMatrix

    func = "plot_cka_matrix"
    if not isinstance(result, CKAMatrix):
        raise param_error("result", func, "a CKAMatrix (from cka_matrix)", type(result).__name__,
                          type_error=True)
    vals = np.asarray(result.values, dtype=np.float64)
    na, nb = vals.shape
    fig, ax = new_axes(ax, (1.2 + 0.45 * nb, 0.9 + 0.42 * na), func)
    im = ax.imshow(vals, vmin=0.0, vmax=1.0, cmap=cmap, origin="lower", aspect="auto")
    ax.set_xticks(range(nb), result.layers_b, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(na), result.layers_a, fontsize=8)
    if annotate is None:
        annotate = na <= 12 and nb <= 12
    if annotate:
        for i in range(na):
            for j in range(nb):
                v = vals[i, j]
                ax.text(j, i, "nan" if not np.isfinite(v) else f"{v:.2f}", ha="center",
                        va="center", fontsize=7, color="black" if v > 0.6 else "white")
    title = "debiased linear CKA" if result.debiased else "linear CKA"
    ax.set_title(f"{title} (n={result.n})", fontsize=10)
    if colorbar:
        fig.colorbar(im, ax=ax, shrink=0.8)
    return fig, ax


def _id_frame(results: Any, func: str) -> pd.DataFrame:
    from deepscope.lenses.representations import IntrinsicDimension

    if isinstance(results, pd.DataFrame):
        need = {"layer", "dimension"}
        if not need <= set(results.columns):
            raise param_error("results", func, "a DataFrame with columns layer, dimension "
                              "(and optional low, high, group)", list(results.columns))
        return results
    if isinstance(results, Mapping) and all(isinstance(v, IntrinsicDimension)
                                            for v in results.values()):
        return pd.DataFrame([{"layer": k, "dimension": v.dimension, "low": v.interval[0],
                              "high": v.interval[1]} for k, v in results.items()])
    raise param_error("results", func, "a mapping layer -> IntrinsicDimension or a DataFrame "
                      "with columns layer, dimension", type(results).__name__, type_error=True)


def plot_intrinsic_dimension(results: Any, ax: Axes | None = None, *,
                             label: str | None = None) -> tuple[Figure, Axes]:
    """Intrinsic dimension against depth, with its bootstrap interval.

    Args:
        results: A mapping ``layer -> IntrinsicDimension`` (in depth order) or a DataFrame
            with columns ``layer, dimension`` and optionally ``low, high`` and ``group``
            (one line per group, e.g. per training condition).
        ax: Axes to draw into (default: a new figure).
        label: Legend label of a single profile.

    Returns:
        ``(fig, ax)``.
    """
    func = "plot_intrinsic_dimension"
    df = _id_frame(results, func)
    fig, ax = new_axes(ax, (5.5, 3.6), func)
    layers = list(dict.fromkeys(df["layer"]))
    pos = {name: i for i, name in enumerate(layers)}
    groups = df.groupby("group", sort=False) if "group" in df.columns else [(label, df)]
    for name, part in groups:
        xs = np.array([pos[v] for v in part["layer"]])
        line = ax.plot(xs, part["dimension"], "o-", label=name)[0]
        if {"low", "high"} <= set(part.columns) and np.isfinite(part["low"]).all():
            ax.fill_between(xs, part["low"], part["high"], color=line.get_color(), alpha=0.2)
    ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("intrinsic dimension")
    ax.set_xlabel("layer")
    if "group" in df.columns or label is not None:
        ax.legend(fontsize=8)
    return fig, ax


def plot_probe(result: Any, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Probe accuracy, control-task accuracy and selectivity per layer, with chance.

    Args:
        result: A :class:`~deepscope.lenses.representations.ProbeResult`.
        ax: Axes to draw into (default: a new figure).

    Returns:
        ``(fig, ax)``.
    """
    from deepscope.lenses.representations import ProbeResult

    func = "plot_probe"
    if not isinstance(result, ProbeResult):
        raise param_error("result", func, "a ProbeResult (from linear_probe)",
                          type(result).__name__, type_error=True)
    fig, ax = new_axes(ax, (5.5, 3.6), func)
    xs = np.arange(len(result.layers))
    ax.plot(xs, result.accuracy, "o-", label="probe accuracy")
    if np.isfinite(result.control_accuracy).any():
        ax.plot(xs, result.control_accuracy, "s--", label="control task")
        ax.plot(xs, result.selectivity, "^:", label="selectivity")
    ax.axhline(result.chance, color="gray", lw=1, ls=":", label="chance")
    ax.set_xticks(xs, result.layers, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    return fig, ax


def plot_invariance(result: Any, ax: Axes | None = None, *, label: str | None = None
                    ) -> tuple[Figure, Axes]:
    """Sensitivity of each layer to a transformation (0 = invariant, 1 = as far as two inputs).

    Args:
        result: An :class:`~deepscope.lenses.representations.InvarianceResult`.
        ax: Axes to draw into (default: a new figure); call again with the same axes to
            overlay several transformations.
        label: Legend label (default: the transformation).

    Returns:
        ``(fig, ax)``.
    """
    from deepscope.lenses.representations import InvarianceResult

    func = "plot_invariance"
    if not isinstance(result, InvarianceResult):
        raise param_error("result", func, "an InvarianceResult (from invariance)",
                          type(result).__name__, type_error=True)
    fig, ax = new_axes(ax, (5.5, 3.6), func)
    xs = np.arange(len(result.layers))
    ax.plot(xs, result.sensitivity, "o-", label=label or result.transform)
    ax.set_xticks(xs, result.layers, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("sensitivity  E|f(t(x)) - f(x)|² / E|f(x) - f(x')|²")
    ax.legend(fontsize=8)
    return fig, ax


def plot_embedding(result: Any, labels: Any = None, ax: Axes | None = None, *,
                   cmap: str = "tab10", size: float = 6.0) -> tuple[Figure, Axes]:
    """Scatter plot of a 2-D :class:`~deepscope.lenses.representations.Embedding`.

    Args:
        result: An ``Embedding``.
        labels: Optional per-point labels ``(n,)`` for the colours.
        ax: Axes to draw into (default: a new figure).
        cmap: Colormap of the labels.
        size: Marker size.

    Returns:
        ``(fig, ax)``.
    """
    from deepscope.lenses.representations import Embedding

    func = "plot_embedding"
    if not isinstance(result, Embedding):
        raise param_error("result", func, "an Embedding (from embed)", type(result).__name__,
                          type_error=True)
    xy = result.coords
    c = None
    if labels is not None:
        c = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels).reshape(-1)
        if c.shape[0] != xy.shape[0]:
            raise param_error("labels", func, f"{xy.shape[0]} labels, one per point",
                              f"{c.shape[0]} labels")
    fig, ax = new_axes(ax, (4.2, 4.0), func)
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=c, cmap=cmap if c is not None else None, s=size)
    if c is not None and len(np.unique(c)) <= 20:
        ax.legend(*sc.legend_elements(), fontsize=7, loc="best", markerscale=0.8)
    ax.set_title(result.method, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig, ax
