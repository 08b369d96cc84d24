"""Plots of the information lens: the information plane and mutual information over epochs.

The information plane is the figure of Shwartz-Ziv & Tishby (2017), "Opening the Black Box
of Deep Neural Networks via Information", arXiv:1703.00810: each hidden layer T is a point
(I(X;T), I(T;Y)) that moves as training goes on.

Both functions accept what the information lens returns (an object with ``.to_frame()``),
a wide DataFrame (columns ``layer, i_xt, i_ty`` and optionally ``step``), or tidy rows as
stored by a run (``step, layer, metric, value`` with metrics ``i_xt`` and ``i_ty``). Rows
repeated for the same (step, layer), e.g. one per seed, are averaged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, LogNorm, Normalize
from matplotlib.figure import Figure

from deepscope.errors import check_choice, param_error
from deepscope.plots._axes import new_axes

__all__ = ["plot_information_plane", "plot_mi_over_epochs"]

_LABELS = {"i_xt": "I(X;T) (bits)", "i_ty": "I(T;Y) (bits)"}



def _wide_frame(data: Any, name: str, func: str, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Normalise ``data`` to columns ``[step,] layer, *metrics``, one row per (step, layer).

    Layers keep the order in which they first appear (input to output).
    """
    frame = data.to_frame() if hasattr(data, "to_frame") and not isinstance(
        data, pd.DataFrame) else data
    if not isinstance(frame, pd.DataFrame):
        raise param_error(name, func, "a DataFrame or a result with .to_frame()",
                          type(data).__name__, type_error=True)
    if "layer" not in frame.columns:
        raise param_error(name, func, "a frame with a 'layer' column",
                          f"columns {list(frame.columns)}")
    keys = ["step", "layer"] if "step" in frame.columns else ["layer"]
    if not set(metrics) <= set(frame.columns) and {"metric", "value"} <= set(frame.columns):
        tidy = frame[frame["metric"].isin(metrics)]
        frame = tidy.pivot_table(index=keys, columns="metric", values="value",
                                 aggfunc="mean", sort=False).reset_index()
        frame.columns.name = None
    missing = [m for m in metrics if m not in frame.columns]
    if missing:
        raise param_error(name, func, f"a frame with columns {['layer', *metrics]} (or "
                          f"tidy rows with metrics {list(metrics)})",
                          f"columns {list(frame.columns)}")
    frame = frame[keys + list(metrics)].groupby(keys, sort=False, as_index=False).mean()
    return frame.dropna(subset=list(metrics)).reset_index(drop=True)


def _color_norm(values: np.ndarray, log: bool) -> tuple[np.ndarray, Normalize]:
    """Colour values and their norm; a log norm clips steps <= 0 to the smallest positive."""
    positive = values[values > 0]
    if log and positive.size:
        lo, hi = float(positive.min()), float(values.max())
        return np.maximum(values, lo), LogNorm(vmin=lo, vmax=max(hi, lo * 1.0001))
    return values, Normalize(vmin=float(values.min()), vmax=float(values.max()))


def _label_points(ax: Axes, names: Any, xs: Any, ys: Any, frame: pd.DataFrame) -> None:
    """Name each point; labels of points that (nearly) coincide stack downwards."""
    span_x = float(np.ptp(frame["i_xt"])) or 1.0
    span_y = float(np.ptp(frame["i_ty"])) or 1.0
    placed: list[tuple[float, float]] = []
    for name, x, y in zip(names, xs, ys):
        near = sum(abs(x - px) < 0.03 * span_x and abs(y - py) < 0.03 * span_y
                   for px, py in placed)
        placed.append((x, y))
        ax.annotate(str(name), (x, y), xytext=(5, 5 - 11 * near), textcoords="offset points",
                    fontsize=9, zorder=3)


def plot_information_plane(
    result: Any,
    ax: Axes | None = None,
    *,
    color_by: str = "step",
    cmap: str | Colormap = "viridis",
    log_color: bool = True,
) -> tuple[Figure, Axes]:
    """Draw the information plane: I(T;Y) against I(X;T) for every layer T.

    Without a ``step`` column: one marker per layer, connected from layer to layer. With
    ``step``: one curve per layer through its points in step order, each point coloured by
    its epoch (colour bar "epoch"), the layer named at its last point.

    Args:
        result: Information-plane result (``.to_frame()``) or a DataFrame (see module doc).
        ax: Axes to draw into; default a new figure.
        color_by: ``"step"`` colours points by epoch; ``"layer"`` gives each layer one colour.
        cmap: Colormap of the epoch colours.
        log_color: Log-scaled epoch colours (steps <= 0 take the lowest colour).

    Returns:
        ``(fig, ax)``.

    Example:
        >>> import torch
        >>> from deepscope.lenses.information import information_plane
        >>> acts = {"fc1": torch.rand(64, 4) * 2 - 1, "fc2": torch.rand(64, 2) * 2 - 1}
        >>> result = information_plane(acts, torch.arange(64) % 2, bins=10)
        >>> fig, ax = plot_information_plane(result)
    """
    func = "plot_information_plane"
    check_choice(color_by, "color_by", func, ("step", "layer"))
    frame = _wide_frame(result, "result", func, ("i_xt", "i_ty"))
    fig, ax = new_axes(ax, (6.4, 4.8), "plot_information_plane")
    layers = list(dict.fromkeys(frame["layer"]))
    if "step" not in frame.columns:
        ax.plot(frame["i_xt"], frame["i_ty"], "-o", color="C0", markersize=6)
        _label_points(ax, frame["layer"], frame["i_xt"], frame["i_ty"], frame)
    else:
        frame = frame.sort_values("step", kind="stable")
        for k, layer in enumerate(layers):
            sub = frame[frame["layer"] == layer]
            color = "0.55" if color_by == "step" else f"C{k % 10}"
            ax.plot(sub["i_xt"], sub["i_ty"], "-", color=color, lw=0.9, alpha=0.7, zorder=1)
        lasts = frame.groupby("layer", sort=False, observed=True).last().loc[layers]
        _label_points(ax, layers, lasts["i_xt"], lasts["i_ty"], frame)
        if color_by == "step":
            values, norm = _color_norm(frame["step"].to_numpy(dtype=float), log_color)
            points = ax.scatter(frame["i_xt"], frame["i_ty"], c=values, cmap=cmap,
                                norm=norm, s=14, edgecolors="none", zorder=2)
            fig.colorbar(points, ax=ax, label="epoch")
        else:
            index = {layer: k for k, layer in enumerate(layers)}
            colors = [f"C{index[layer] % 10}" for layer in frame["layer"]]
            ax.scatter(frame["i_xt"], frame["i_ty"], c=colors, s=14, edgecolors="none",
                       zorder=2)
    ax.set_xlabel(_LABELS["i_xt"])
    ax.set_ylabel(_LABELS["i_ty"])
    ax.set_title("Information plane")
    ax.grid(True, alpha=0.3)
    return fig, ax


def plot_mi_over_epochs(
    result: Any, ax: Axes | None = None, *, metric: str = "i_xt"
) -> tuple[Figure, Axes]:
    """Draw one line per layer of ``metric`` (e.g. I(X;T)) against the epoch (log x).

    Args:
        result: Result with ``.to_frame()`` or DataFrame with ``step, layer, <metric>``
            (or tidy ``step, layer, metric, value`` rows).
        ax: Axes to draw into; default a new figure.
        metric: The column to draw, e.g. ``"i_xt"`` or ``"i_ty"``.

    Returns:
        ``(fig, ax)``; the x axis is logarithmic (symmetric-log when a step is <= 0).
    """
    func = "plot_mi_over_epochs"
    if not isinstance(metric, str):
        raise param_error("metric", func, "a str", metric, type_error=True)
    wide = _wide_frame(result, "result", func, (metric,))
    if "step" not in wide.columns:
        raise param_error("result", func, "a frame with a 'step' column",
                          f"columns {list(wide.columns)}")
    fig, ax = new_axes(ax, (7.0, 4.2), "plot_mi_over_epochs")
    wide = wide.sort_values("step", kind="stable")
    for k, layer in enumerate(dict.fromkeys(wide["layer"])):
        sub = wide[wide["layer"] == layer]
        ax.plot(sub["step"], sub[metric], "-", color=f"C{k % 10}", lw=1.4, label=str(layer))
    if len(wide) and wide["step"].min() > 0:
        ax.set_xscale("log")
    else:
        ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("epoch")
    ax.set_ylabel(_LABELS.get(metric, metric))
    ax.legend(title="layer", fontsize=8, title_fontsize=8, loc="center left",
              bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.grid(True, alpha=0.3)
    return fig, ax
