"""Plot of the gradient signal-to-noise lens (Shalev-Shwartz, Shamir & Shammah 2017,
arXiv 1703.07950, Figure 5): signal, noise and SNR of each parameter or module."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.errors import check_choice, param_error
from deepscope.plots._axes import new_axes

__all__ = ["plot_gradient_snr"]


def plot_gradient_snr(result: Any, ax: Axes | None = None, *, level: str = "module"
                      ) -> tuple[Figure, Axes]:
    """Bars of the gradient SNR per module (or per parameter), on a log scale.

    Args:
        result: a :class:`deepscope.lenses._gradient_snr.GradientSNR`.
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
