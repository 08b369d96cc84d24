"""Plots of the weight-spectra lens: the ESD with its power-law and MP fits, alpha over time.

The log-log ESD with the fitted power-law tail and the Marchenko-Pastur bulk is the figure
of Martin & Mahoney ("Implicit self-regularization in deep neural networks", JMLR 2021,
arXiv 1810.01075).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from deepscope.errors import check_int, param_error
from deepscope.plots._axes import new_axes

__all__ = ["plot_alpha_over_epochs", "plot_esd"]


def plot_esd(result: Any, ax: Axes | None = None, *, layer: str | int = 0,
             matrix: str | None = None, bins: int = 60, show_random: bool = True
             ) -> tuple[Figure, Axes]:
    """Log-log histogram of one matrix's ESD with the fitted tail and the MP curve.

    The histogram is a density over log-spaced bins. The power-law fit is drawn from
    ``xmin`` on, scaled by the tail's share of the eigenvalues so that it sits on the
    histogram; the MP density of the fitted bulk is drawn over the bulk, and dotted lines
    mark ``xmin`` and the bulk edge. With ``show_random`` the ESD of the randomised
    (element-wise permuted) matrix is overlaid.

    Args:
        result: a :class:`deepscope.lenses.spectra.WeightSpectra`.
        layer: layer name or position in the result.
        matrix: ``"q"``/``"k"``/``"v"`` for attention layers (default: the first match).
        ax: axes to draw into (default: a new figure).
        bins: number of log-spaced bins.
        show_random: overlay the randomised ESD when the result has it.

    Returns:
        ``(fig, ax)``.

    Raises:
        DeepscopeTypeError: ``result`` is not a WeightSpectra, ``ax`` not an Axes.
        DeepscopeValueError: unknown layer, bad ``bins``.
    """
    from deepscope.lenses.spectra import WeightSpectra

    func = "plot_esd"
    if not isinstance(result, WeightSpectra):
        raise param_error("result", func, "a WeightSpectra (from analyze_weights)",
                          type(result).__name__, type_error=True)
    bins = check_int(bins, "bins", func, low=2, high=10000)
    i = result.index(layer, matrix)
    fig, ax = new_axes(ax, (5.0, 3.8), "plot_esd")
    ev = np.asarray(result.eigenvalues[i], dtype=np.float64)
    pos = ev[ev > 0]
    if pos.size < 2:
        ax.text(0.5, 0.5, "fewer than 2 positive eigenvalues", ha="center",
                transform=ax.transAxes)
        return fig, ax
    rand = None
    if show_random and result.random_eigenvalues is not None:
        rand = np.asarray(result.random_eigenvalues[i], dtype=np.float64)
        rand = rand[rand > 0]
    lo = pos.min() if rand is None or rand.size == 0 else min(pos.min(), rand.min())
    hi = pos.max() if rand is None or rand.size == 0 else max(pos.max(), rand.max())
    edges = np.geomspace(lo, hi * (1 + 1e-9), bins + 1)
    ax.hist(pos, bins=edges, density=True, color="tab:blue", alpha=0.55, label="ESD")
    if rand is not None and rand.size:
        ax.hist(rand, bins=edges, density=True, histtype="step", color="tab:purple",
                label="randomised ESD")
    fit = result.power_law[i]
    if np.isfinite(fit.alpha):
        xs = np.geomspace(fit.xmin, pos.max(), 100)
        share = fit.n_tail / pos.size
        ax.plot(xs, share * fit.pdf(xs), color="tab:red", lw=2,
                label=f"power law α={fit.alpha:.2f}")
        ax.axvline(fit.xmin, color="tab:red", ls=":", lw=1)
    mp = result.marchenko_pastur[i]
    if mp is not None and np.isfinite(mp.bulk_max):
        xs = np.linspace(max(mp.bulk_min, lo), mp.bulk_max, 300)[1:-1]
        dens = mp.pdf(xs)
        keep = dens > 0
        if keep.any():
            ax.plot(xs[keep], dens[keep], color="black", lw=1.5,
                    label=f"MP fit, {mp.n_spikes} spike(s)")
        ax.axvline(mp.bulk_max, color="black", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    if hi / lo > 20:  # several decades: major ticks only (minor labels would overlap)
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("eigenvalue λ of WᵀW")
    ax.set_ylabel("density")
    name = result.layers[i] + ("" if result.matrices[i] == "weight" else
                               f" ({result.matrices[i]})")
    ax.set_title(f"{name}: {result.N[i]}×{result.M[i]}"
                 + (f" ×{result.n_slices[i]} slices" if result.n_slices[i] > 1 else ""))
    ax.legend(fontsize=7, loc="lower left")
    return fig, ax


def plot_alpha_over_epochs(result: Any, ax: Axes | None = None, *, metric: str = "alpha"
                           ) -> tuple[Figure, Axes]:
    """A metric of every layer (default ``alpha``) against the training step.

    Args:
        result: a DataFrame with columns ``step, layer, <metric>`` or tidy rows ``step,
            layer, metric, value`` (rows repeated per seed are averaged).
        metric: the column / metric to plot.
        ax: axes to draw into.

    Returns:
        ``(fig, ax)``.

    Raises:
        DeepscopeTypeError: ``result`` is not a DataFrame.
        DeepscopeValueError: missing columns.
    """
    func = "plot_alpha_over_epochs"
    if not isinstance(result, pd.DataFrame):
        raise param_error("result", func, "a DataFrame", type(result).__name__, type_error=True)
    frame = result
    if metric not in frame.columns and {"metric", "value"} <= set(frame.columns):
        frame = frame[frame["metric"] == metric].rename(columns={"value": metric})
    need = {"step", "layer", metric}
    if not need <= set(frame.columns):
        raise param_error("result", func, f"a frame with columns {sorted(need)} (or tidy rows "
                          f"with metric {metric!r})", f"columns {list(result.columns)}")
    fig, ax = new_axes(ax, (5.5, 3.8), "plot_alpha_over_epochs")
    order = list(dict.fromkeys(frame["layer"]))
    mean = frame.groupby(["layer", "step"], sort=False)[metric].mean().reset_index()
    for name in order:
        part = mean[mean["layer"] == name].sort_values("step")
        ax.plot(part["step"], part[metric], marker="o", ms=3, label=str(name))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    return fig, ax
