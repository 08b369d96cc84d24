"""Plot of the regions lens: the exact partition of a 2-D slice with its decision boundary.

The picture of Hanin & Rolnick (2019, arXiv 1906.00904, Fig. 1) and of SplineCam (Humayun
et al., CVPR 2023): every activation region of a ReLU network in a plane through input space
as a polygon, the decision boundary drawn over them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure

from deepscope.errors import check_choice, param_error
from deepscope.plots._axes import new_axes

__all__ = ["plot_regions"]

_COLORS = ("random", "class", "area")



def _face_colors(result: Any, color: str, seed: int) -> np.ndarray:
    n = result.count
    rng = np.random.default_rng(seed)
    if color == "random":                      # pastel, neighbours rarely alike
        hsv = np.stack([rng.uniform(0, 1, n), rng.uniform(0.25, 0.55, n),
                        rng.uniform(0.85, 1.0, n)], 1)
        return hsv_to_rgb(hsv)
    if color == "class":
        pred = result.predicted()
        base = np.array([[0.62, 0.77, 0.91], [0.99, 0.75, 0.53], [0.70, 0.87, 0.54],
                         [0.98, 0.60, 0.60], [0.79, 0.70, 0.84], [0.99, 0.85, 0.43],
                         [0.80, 0.80, 0.80], [0.55, 0.83, 0.78], [0.90, 0.67, 0.82],
                         [0.74, 0.50, 0.35]])
        shade = rng.uniform(0.88, 1.0, n)[:, None]
        return np.clip(base[pred % len(base)] * shade, 0, 1)
    logs = np.log10(np.maximum(result.areas, 1e-300))
    lo, hi = float(logs.min()), float(logs.max())
    frac = (logs - lo) / (hi - lo) if hi > lo else np.zeros(n)
    return hsv_to_rgb(np.stack([0.62 - 0.55 * frac, np.full(n, 0.45), np.full(n, 0.95)], 1))


def plot_regions(result: Any, ax: Axes | None = None, *, boundary: bool = True,
                 points: Any = None, point_colors: Any = None, color: str = "random",
                 edgecolor: Any = "0.3", linewidth: float = 0.25, seed: int = 0,
                 title: str | None = None) -> tuple[Figure, Axes]:
    """Draw a :class:`~deepscope.lenses.regions.PlaneRegions` partition.

    Args:
        result: what :func:`deepscope.lenses.regions.regions_in_plane` returns.
        ax: axes to draw on; a new figure when ``None``.
        boundary: draw the decision boundary (black) where it was computed.
        points: ``(k, 2)`` plane coordinates to mark (e.g. the three data points of
            :func:`~deepscope.lenses.regions.plane_through`, via
            :func:`~deepscope.lenses.regions.plane_coordinates`).
        point_colors: colours of the points (default black).
        color: face colours: ``"random"`` (pastel, per region), ``"class"`` (the predicted
            class at the centroid) or ``"area"`` (log area, small regions warm).
        edgecolor: region edge colour.
        linewidth: region edge width.
        seed: seed of the random face colours.
        title: axes title (default: the region count).

    Returns:
        ``(fig, ax)``.

    Raises:
        DeepscopeTypeError: ``result`` is not a plane partition or ``ax`` not an Axes.
        DeepscopeValueError: unknown ``color`` or badly shaped ``points``.
    """
    func = "plot_regions"
    if not all(hasattr(result, a) for a in ("polygons", "areas", "boundary", "bounds")):
        raise param_error("result", func, "a PlaneRegions (from regions_in_plane)",
                          type(result).__name__, type_error=True)
    check_choice(color, "color", func, _COLORS)
    fig, ax = new_axes(ax, (5.0, 5.0), "plot_regions")
    polys = PolyCollection(result.polygons, facecolors=_face_colors(result, color, seed),
                           edgecolors=edgecolor, linewidths=linewidth)
    ax.add_collection(polys)
    if boundary and result.boundary:
        segs = [s for b in result.boundary for s in b]
        if segs:
            ax.add_collection(LineCollection(segs, colors="black", linewidths=1.6,
                                             capstyle="round"))
    if points is not None:
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise param_error("points", func, "an array of shape (k, 2)", pts.shape)
        ax.scatter(pts[:, 0], pts[:, 1], s=28, c="black" if point_colors is None
                   else point_colors, edgecolors="white", linewidths=0.8, zorder=3)
    u0, u1, v0, v1 = result.bounds
    ax.set_xlim(u0, u1)
    ax.set_ylim(v0, v1)
    ax.set_aspect("equal")
    ax.set_xlabel("u")
    ax.set_ylabel("v")
    if title is None:
        title = (f"{result.count:,} activation regions" if getattr(result, "complete", True)
                 else f"at least {result.count:,} regions (budget hit at "
                      f"{result.stopped_at})")
    ax.set_title(title)
    return fig, ax
