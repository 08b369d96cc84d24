"""Plots of the energy family: Ising observables against temperature, AIS weights."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.errors import check_choice, param_error
from deepscope.plots._axes import new_axes

__all__ = ["plot_ais_weights", "plot_ising_observables"]

_LABELS = {"abs_m": "<|m|> per site", "energy": "<e> per site", "binder": "Binder cumulant U",
           "tau_energy": "tau_int of e (sweeps)", "tau_abs_m": "tau_int of |m| (sweeps)"}


def plot_ising_observables(samples: Any, quantity: str = "abs_m", *, ax: Axes | None = None,
                           exact: Any = None, label: str | None = None) -> tuple[Figure, Axes]:
    """An Ising observable against temperature, with its standard error where it has one.

    Args:
        samples: A :class:`deepscope.data.IsingSamples`.
        quantity: ``"abs_m"``, ``"energy"``, ``"binder"``, ``"tau_energy"`` or ``"tau_abs_m"``.
        ax: Axes to draw into (default: a new figure).
        exact: Optional :func:`deepscope.data.ising_exact` frame drawn as a line.
        label: Legend label (default ``"L = <L>"``).

    Returns:
        ``(fig, ax)``.
    """
    func = "plot_ising_observables"
    if not hasattr(samples, "to_frame") or not hasattr(samples, "spins"):
        raise param_error("samples", func, "an IsingSamples", type(samples).__name__,
                          type_error=True)
    check_choice(quantity, "quantity", func, tuple(_LABELS))
    fig, ax = new_axes(ax, (5, 3.6), func)
    df = samples.to_frame()
    err = df.get(f"{quantity}_stderr")
    ax.errorbar(df.temperature, df[quantity], yerr=None if err is None else err, fmt="o",
                ms=3, capsize=2, label=label or f"L = {samples.L}")
    if exact is not None and quantity in exact:
        ax.plot(exact.temperature, exact[quantity], "-", color="gray", lw=1, label="exact")
    from deepscope.data.ising import ONSAGER_TC

    ax.axvline(ONSAGER_TC, color="black", ls=":", lw=1)
    ax.set_xlabel("temperature")
    ax.set_ylabel(_LABELS[quantity])
    ax.legend(fontsize=8)
    return fig, ax


def plot_ais_weights(result: Any, *, ax: Axes | None = None, bins: int = 30,
                     exact: float | None = None) -> tuple[Figure, Axes]:
    """Histogram of AIS log-weights as ``log Z`` estimates, one per chain.

    Each chain's ``log Z_A + log w`` is drawn; the estimate ``log Z`` (a log-mean-exp, so
    pulled to the right tail) and, if given, the exact value are marked.

    Args:
        result: A :class:`deepscope.lenses.energy.PartitionFunction` from ``method="ais"``.
        ax: Axes to draw into.
        bins: Histogram bins.
        exact: An exact ``log Z`` to mark.
    """
    func = "plot_ais_weights"
    if getattr(result, "lens", None) != "energy.partition_function" or result.method != "ais":
        raise param_error("result", func, "a PartitionFunction from method='ais'",
                          type(result).__name__, type_error=True)
    fig, ax = new_axes(ax, (5, 3.6), func)
    per_chain = result.log_z_base + np.asarray(result.log_weights)
    ax.hist(per_chain, bins=bins, color="C0", alpha=0.7, label="chains")
    ax.axvline(result.log_z, color="C1", lw=2,
               label=f"AIS log Z = {result.log_z:.3f} ± {result.stderr:.3f}")
    if np.isfinite(result.log_z_upper):
        ax.axvline(result.log_z_upper, color="C2", ls="--",
                   label=f"reverse AIS {result.log_z_upper:.3f}")
    if exact is not None:
        ax.axvline(exact, color="black", ls=":", label=f"exact {exact:.3f}")
    ax.set_xlabel("log Z_A + log w (per chain)")
    ax.set_ylabel("chains")
    ax.legend(fontsize=8)
    return fig, ax
