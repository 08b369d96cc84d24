"""Plots of the landscape lens: contour and 3-D surface of a loss plane, loss along a line
or an interpolation path with the barrier marked (Li et al. 2018, arXiv 1712.09913;
Frankle et al. 2020, arXiv 1912.05671)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.errors import param_error
from deepscope.plots._axes import new_axes

__all__ = ["plot_loss_contour", "plot_loss_line", "plot_loss_surface"]



def _plane(result: Any, func: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    coords, loss = getattr(result, "coords", None), getattr(result, "loss", None)
    if not (isinstance(coords, tuple) and len(coords) == 2 and loss is not None
            and np.ndim(loss) == 2):
        raise param_error("result", func, "a LossPlane (from loss_plane)",
                          type(result).__name__, type_error=True)
    return np.asarray(coords[0]), np.asarray(coords[1]), np.asarray(loss)


def plot_loss_contour(result: Any, ax: Axes | None = None, *, levels: Any = 25,
                      log: bool = True, title: str | None = None) -> tuple[Figure, Axes]:
    """Contour lines of a :class:`~deepscope.lenses.landscape.LossPlane`, centre marked.

    Args:
        result: The plane.
        ax: Axes to draw into (default: a new figure).
        levels: Number of contour levels, or the increasing level values themselves (in
            ``log10(loss)`` units when ``log``), e.g. to share levels between planes.
        log: Contour ``log10(loss)`` (Li et al.'s pictures spread the levels like this).
        title: Axes title.

    Returns:
        ``(fig, ax)``.
    """
    a, b, loss = _plane(result, "plot_loss_contour")
    fig, ax = new_axes(ax, (5.0, 4.4), "plot_loss_contour")
    z = np.log10(np.maximum(loss, 1e-12)) if log else loss
    cs = ax.contour(a, b, z.T, levels=levels, cmap="viridis", linewidths=0.9)
    fig.colorbar(cs, ax=ax, label="log10 loss" if log else "loss")
    ax.plot([0.0], [0.0], marker="*", color="crimson", markersize=10, linestyle="none",
            label="model")
    ax.set_xlabel(r"$\alpha$ (direction 1)")
    ax.set_ylabel(r"$\beta$ (direction 2)")
    ax.set_aspect("equal", adjustable="box")
    if title:
        ax.set_title(title)
    return fig, ax


def plot_loss_surface(result: Any, ax: Axes | None = None, *, log: bool = False,
                      title: str | None = None) -> tuple[Figure, Axes]:
    """3-D surface of a :class:`~deepscope.lenses.landscape.LossPlane`.

    Args:
        result: The plane.
        ax: A 3-D Axes (``projection="3d"``) or ``None`` for a new figure.
        log: Plot ``log10(loss)``.
        title: Axes title.

    Returns:
        ``(fig, ax)``.
    """
    a, b, loss = _plane(result, "plot_loss_surface")
    fig, ax = new_axes(ax, (5.4, 4.6), "plot_loss_surface", projection="3d")
    z = np.log10(np.maximum(loss, 1e-12)) if log else loss
    aa, bb = np.meshgrid(a, b, indexing="ij")
    ax.plot_surface(aa, bb, z, cmap="viridis", linewidth=0, antialiased=True)
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(r"$\beta$")
    ax.set_zlabel("log10 loss" if log else "loss")
    if title:
        ax.set_title(title)
    return fig, ax


def plot_loss_line(result: Any, ax: Axes | None = None, *, label: str | None = None,
                   accuracy: bool = False, mark_barrier: bool = True,
                   color: Any = None) -> tuple[Figure, Axes]:
    """Loss along a :class:`LossLine` or an :class:`Interpolation` (barrier marked).

    For an interpolation the barrier is drawn as a vertical segment from the mean of the
    end losses up to the highest point of the path, labelled with its height.

    Args:
        result: A ``LossLine`` (x = alpha) or an ``Interpolation`` (x = t).
        ax: Axes to draw into (default: a new figure).
        label: Legend label of the curve.
        accuracy: Plot accuracy instead of loss (no barrier mark).
        mark_barrier: Mark the barrier of an interpolation.
        color: Matplotlib colour of the curve.

    Returns:
        ``(fig, ax)``.
    """
    is_path = hasattr(result, "barrier") and hasattr(result, "t")
    if not is_path and not (hasattr(result, "coords") and np.ndim(getattr(
            result, "loss", None)) == 1):
        raise param_error("result", "plot_loss_line", "a LossLine or an Interpolation",
                          type(result).__name__, type_error=True)
    x = np.asarray(result.t if is_path else result.coords)
    y = np.asarray(result.accuracy if accuracy else result.loss)
    fig, ax = new_axes(ax, (5.4, 3.6), "plot_loss_line")
    (line,) = ax.plot(x, y, marker="o", markersize=3, label=label, color=color)
    if is_path and mark_barrier and not accuracy:
        i = int(np.argmax(y))
        base = 0.5 * (y[0] + y[-1])
        ax.plot([x[0], x[-1]], [y[0], y[-1]], linestyle=":", color=line.get_color(), lw=1)
        ax.annotate("", xy=(x[i], y[i]), xytext=(x[i], base),
                    arrowprops={"arrowstyle": "<->", "color": line.get_color()})
        ax.text(x[i], 0.5 * (y[i] + base), f" barrier {result.barrier:.3g}",
                color=line.get_color(), va="center", fontsize=8)
    ax.set_xlabel("t (0 = model a, 1 = model b)" if is_path else r"$\alpha$")
    ax.set_ylabel("accuracy" if accuracy else "loss")
    if label is not None:
        ax.legend()
    return fig, ax
