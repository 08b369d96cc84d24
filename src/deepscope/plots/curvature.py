"""Plots of the curvature lens: the Hessian's spectral density and its extreme eigenvalues.

The density figure is the one of Ghorbani, Krishnan & Xiao (2019, arXiv 1901.10159) and
Yao et al. (2020, PyHessian, arXiv 1912.07145): a bulk near zero and a few outliers, on a
log density axis so both show.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.errors import param_error
from deepscope.plots._axes import new_axes

__all__ = ["plot_hessian_density", "plot_hessian_eigs"]


def _check(result: Any, attrs: tuple[str, ...], name: str, func: str) -> None:
    if not all(hasattr(result, a) for a in attrs):
        raise param_error(name, func, f"a result with {', '.join(attrs)}",
                          type(result).__name__, type_error=True)


def plot_hessian_density(result: Any, ax: Axes | None = None, *, log: bool = True,
                         label: str | None = None, floor: float = 1e-6
                         ) -> tuple[Figure, Axes]:
    """Draw the smoothed eigenvalue density of a :class:`~deepscope.lenses.curvature.HessianDensity`.

    Args:
        result: What :func:`~deepscope.lenses.curvature.hessian_density` returns.
        ax: Axes to draw into; default a new figure.
        log: Log-scaled density axis (values below ``floor`` times the peak are clipped).
        label: Legend label of the curve (a legend is drawn when given).
        floor: Lowest density shown on the log axis, relative to the peak.

    Returns:
        ``(fig, ax)``.

    Example:
        >>> import torch
        >>> from deepscope.lenses.curvature import hessian_density
        >>> model = torch.nn.Linear(3, 2)
        >>> x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
        >>> dens = hessian_density(model, torch.nn.functional.cross_entropy, (x, y))
        >>> fig, ax = plot_hessian_density(dens)
    """
    func = "plot_hessian_density"
    _check(result, ("grid", "density", "kind"), "result", func)
    fig, ax = new_axes(ax, (5.5, 3.8), "plot_hessian_density")
    grid = np.asarray(result.grid, dtype=float)
    dens = np.asarray(result.density, dtype=float)
    if log:
        dens = np.maximum(dens, floor * max(float(dens.max()), np.finfo(float).tiny))
        ax.set_yscale("log")
    ax.plot(grid, dens, lw=1.4, label=label)
    ax.axvline(0.0, color="0.6", lw=0.8, ls=":")
    what = "Gauss-Newton" if result.kind == "gauss-newton" else "Hessian"
    ax.set_xlabel(f"eigenvalue of the {what}")
    ax.set_ylabel("density" + (" (log)" if log else ""))
    if label is not None:
        ax.legend(frameon=False)
    return fig, ax


def plot_hessian_eigs(result: Any, ax: Axes | None = None, *, label: str | None = None
                      ) -> tuple[Figure, Axes]:
    """Draw the eigenvalues of a :class:`~deepscope.lenses.curvature.HessianEigs` by rank.

    Each eigenvalue is a marker at its rank (1 = largest) with its residual
    :math:`\\|Hv - \\lambda v\\|` as an error bar (a bound on its error); unconverged pairs
    are drawn hollow.

    Args:
        result: What :func:`~deepscope.lenses.curvature.hessian_eigs` returns.
        ax: Axes to draw into; default a new figure.
        label: Legend label (a legend is drawn when given).

    Returns:
        ``(fig, ax)``.

    Example:
        >>> import torch
        >>> from deepscope.lenses.curvature import hessian_eigs
        >>> model = torch.nn.Linear(3, 2)
        >>> x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
        >>> eigs = hessian_eigs(model, torch.nn.functional.cross_entropy, (x, y), k=3)
        >>> fig, ax = plot_hessian_eigs(eigs)
    """
    func = "plot_hessian_eigs"
    _check(result, ("eigenvalues", "residuals", "converged"), "result", func)
    fig, ax = new_axes(ax, (5.0, 3.6), "plot_hessian_eigs")
    vals = np.asarray(result.eigenvalues, dtype=float)
    res = np.asarray(result.residuals, dtype=float)
    ok = np.asarray(result.converged, dtype=bool)
    rank = np.arange(1, vals.size + 1)
    bars = ax.errorbar(rank, vals, yerr=res, fmt="none", ecolor="0.4", lw=1)
    color = bars.lines[2][0].get_color() if bars.lines[2] else None
    line = ax.plot(rank[ok], vals[ok], "o", label=label)[0]
    color = line.get_color() or color
    if (~ok).any():
        ax.plot(rank[~ok], vals[~ok], "o", mfc="none", color=color, label="not converged")
    ax.axhline(0.0, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("rank (1 = largest)")
    ax.set_ylabel("eigenvalue")
    ax.set_xticks(rank if vals.size <= 20 else ax.get_xticks())
    if label is not None or (~ok).any():
        ax.legend(frameon=False)
    return fig, ax
