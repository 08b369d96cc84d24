"""Plots of the gradient lens (Shalev-Shwartz, Shamir & Shammah 2017, arXiv 1703.07950).

* :func:`plot_variance_vs_d`: ``log2`` of the gradient variance across parities against
  the number of bits ``d``, with Theorem 1's bound ``G^2 / 2^d`` and a fitted slope.
* :func:`plot_accuracy_curves`: test accuracy against SGD iterations, one curve per ``d``.
* :func:`plot_gradient_snr`: signal, noise and SNR of the gradient per module or parameter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.errors import check_choice, param_error
from deepscope.plots._axes import new_axes

__all__ = ["plot_accuracy_curves", "plot_gradient_snr", "plot_variance_vs_d"]


def _frame(data: Any, need: tuple[str, ...], func: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise param_error("result", func, "a pandas DataFrame", type(data).__name__,
                          type_error=True)
    missing = [c for c in need if c not in data.columns]
    if missing:
        raise param_error("result", func, f"a frame with columns {list(need)}",
                          f"columns {list(data.columns)}")
    return data


def plot_variance_vs_d(result: pd.DataFrame, ax: Axes | None = None, *,
                       bound: bool = True) -> tuple[Figure, Axes]:
    """``log2 Var`` against ``d`` (mean over rows with the same ``d``), with a fitted line.

    Args:
        result: columns ``d``, ``variance`` and optionally ``g_sq`` (``G^2``) and ``exact``
            (1 for exact values, 0 for sampled-input estimates, drawn hollow).
        ax: axes to draw into (default: a new figure).
        bound: also draw Theorem 1's bound ``log2(G^2 / 2^d)``.

    Returns:
        ``(fig, ax)``.
    """
    frame = _frame(result, ("d", "variance"), "plot_variance_vs_d")
    fig, ax = new_axes(ax, (5.6, 4.0), "plot_variance_vs_d")
    agg = frame.groupby("d").mean(numeric_only=True).reset_index().sort_values("d")
    d = agg["d"].to_numpy(float)
    logv = np.log2(agg["variance"].to_numpy(float))
    exact = agg["exact"].to_numpy() > 0.5 if "exact" in agg else np.ones(len(d), bool)
    ax.plot(d, logv, "-", color="C0", lw=1)
    ax.plot(d[exact], logv[exact], "o", color="C0", label="Var (exact, all 2^d inputs)")
    if (~exact).any():
        ax.plot(d[~exact], logv[~exact], "o", mfc="none", color="C0",
                label="Var (sampled inputs)")
    if bound and "g_sq" in agg:
        ax.plot(d, np.log2(agg["g_sq"].to_numpy(float)) - d, "--", color="C3",
                label="bound log2(G²/2^d)")
    if len(d) >= 2:
        slope, icpt = np.polyfit(d, logv, 1)
        ax.plot(d, slope * d + icpt, ":", color="k", label=f"fit: slope {slope:.2f}")
    ax.set_xlabel("d (bits)")
    ax.set_ylabel("log2 gradient variance across parities")
    ax.legend(fontsize=8)
    return fig, ax


def plot_accuracy_curves(result: pd.DataFrame, ax: Axes | None = None, *,
                         chance: float = 0.5) -> tuple[Figure, Axes]:
    """Test accuracy against iteration, mean over seeds, one curve per ``d``.

    Args:
        result: columns ``d``, ``step``, ``accuracy`` (rows of several seeds are averaged;
            NaN rows, e.g. after a net stopped, are dropped).
        ax: axes to draw into (default: a new figure).
        chance: level drawn as a dotted line.

    Returns:
        ``(fig, ax)``.
    """
    frame = _frame(result, ("d", "step", "accuracy"), "plot_accuracy_curves").dropna(
        subset=["accuracy"])
    fig, ax = new_axes(ax, (5.6, 4.0), "plot_accuracy_curves")
    for i, (d, part) in enumerate(frame.groupby("d")):
        mean = part.groupby("step")["accuracy"].mean()
        ax.plot(mean.index, mean.to_numpy(), "-o", ms=3, color=f"C{i}", label=f"d = {d}")
    ax.axhline(chance, color="grey", ls=":", lw=1)
    ax.set_xlabel("SGD iteration")
    ax.set_ylabel("test accuracy (fresh samples)")
    ax.set_ylim(0.4, 1.02)
    ax.legend(fontsize=8)
    return fig, ax



def plot_gradient_snr(result: Any, ax: Axes | None = None, *, level: str = "module"
                      ) -> tuple[Figure, Axes]:
    """Bars of the gradient SNR per module (or per parameter), on a log scale.

    Args:
        result: a :class:`deepscope.lenses.gradients.snr.GradientSNR`.
        ax: axes to draw in; default: a new figure (no pyplot state).
        level: ``"module"`` or ``"parameter"``.

    Returns:
        ``(fig, ax)``.

    Example:
        >>> fig, ax = plot_gradient_snr(res)  # doctest: +SKIP
    """
    func = "plot_gradient_snr"
    check_choice(level, "level", func, ("module", "parameter"))
    if not hasattr(result, "module_snr"):
        raise param_error("result", func, "a GradientSNR", type(result).__name__,
                          type_error=True)
    fig, ax = new_axes(ax, (max(4.0, 0.6 * len(result.parameters) + 2), 3.4), func)
    names = result.modules if level == "module" else result.parameters
    snr = result.module_snr if level == "module" else result.snr
    labels = [n if n else "(root)" for n in names]
    shown = np.where(np.isfinite(snr) & (snr > 0), snr, np.nan)
    ax.bar(np.arange(len(labels)), shown, color="C0")
    ax.set_xticks(np.arange(len(labels)), labels, rotation=45, ha="right")
    if np.isfinite(shown).any():
        ax.set_yscale("log")
    ax.set_ylabel("gradient SNR  ‖E g‖² / E‖g − E g‖²")
    ax.set_title(f"{result.n_batches} {'examples' if result.per_example else 'batches'}",
                 fontsize=9)
    return fig, ax
