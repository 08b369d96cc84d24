"""Figures and summary table of the ``landscape`` study."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

_COLORS = {"small": "#1f77b4", "large": "#d62728"}


def _part(df: pd.DataFrame, lens: str, key: str, metric: str, seed=None) -> pd.DataFrame:
    sel = (df["lens"] == lens) & (df["layer"] == key) & (df["metric"] == metric)
    if seed is not None:
        sel &= df["seed"] == seed
    return df[sel].sort_values("step")


def _keys(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df[df["lens"] == "curvature"]["layer"]))


def summary_table(run) -> pd.DataFrame:
    """Per (network, batch regime): mean over seeds of accuracy, curvature and sharpness."""
    df = run.measurements()
    rows = []
    for key in _keys(df):
        def mean(lens, metric, key=key):
            return float(_part(df, lens, key, metric)["value"].mean())

        def std(lens, metric, key=key):
            return float(_part(df, lens, key, metric)["value"].std(ddof=0))

        row = {"network/batch": key,
               "seeds": int(_part(df, "training", key, "test_acc")["seed"].nunique()),
               "steps": round(mean("training", "steps"), 0),
               "train loss": round(mean("training", "train_loss"), 4),
               "train acc": round(mean("training", "train_acc"), 4),
               "test acc": round(mean("training", "test_acc"), 4),
               "top eigenvalue": round(mean("curvature", "top_eigenvalue"), 3),
               "± (std)": round(std("curvature", "top_eigenvalue"), 3),
               "trace": round(mean("curvature", "trace"), 2),
               "trace stderr": round(mean("curvature", "trace_stderr"), 2),
               "trace converged": round(mean("curvature", "trace_converged"), 2),
               "sharpness rel. (%)": round(mean("sharpness", "relative"), 4),
               "sharpness abs. (%)": round(mean("sharpness", "absolute"), 4)}
        for tag in ("plain", "aligned"):
            b = _part(df, "interpolation", key, f"barrier_{tag}")
            row[f"barrier {tag}"] = round(float(b["value"].iloc[0]), 4) if len(b) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _grid(n: int, span: float) -> np.ndarray:
    half = (n - 1) // 2
    return np.arange(-half, half + 1) * (span / half)


def _planes(df, cfg, keys, seed):
    from deepscope.lenses.landscape import LossPlane

    n = int(cfg.get("plane_steps", 21))
    span = float(cfg.get("span", 0.5))
    out = {}
    for key in keys:
        loss = _part(df, "plane", key, "loss", seed)["value"].to_numpy()
        if loss.size != n * n:
            continue
        loss = loss.reshape(n, n)
        out[key] = LossPlane(coords=(_grid(n, span), _grid(n, span)), loss=loss,
                             accuracy=np.full_like(loss, np.nan),
                             center_loss=float(loss[n // 2, n // 2]), span=(span, span))
    return out


def _interp(df, key, tag):
    from deepscope.lenses.landscape import Interpolation

    loss = _part(df, "interpolation", key, f"loss_{tag}")["value"].to_numpy()
    acc = _part(df, "interpolation", key, f"acc_{tag}")["value"].to_numpy()
    if loss.size == 0:
        return None
    return Interpolation(t=np.linspace(0, 1, loss.size), loss=loss, accuracy=acc,
                         barrier=float(loss.max() - 0.5 * (loss[0] + loss[-1])),
                         accuracy_barrier=float(0.5 * (acc[0] + acc[-1]) - acc.min()),
                         aligned=tag == "aligned", permutations=())


def _barrier_axes(df, arch, ax) -> None:
    from deepscope.plots import plot_loss_line

    for tag, color in (("plain", "#d62728"), ("aligned", "#2ca02c")):
        path = _interp(df, f"{arch}/small", tag)
        if path is not None:
            plot_loss_line(path, ax=ax, label=f"{tag}", color=color)
    ax.set_title(f"{arch}: seed 0 → seed 1 (small batch)")


def barrier_figure(df, archs):
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(5.2 * len(archs), 3.8), layout="constrained")
    for ax, arch in zip(np.atleast_1d(fig.subplots(1, len(archs))), archs):
        _barrier_axes(df, arch, ax)
    return fig


def _density_axes(df, keys, seed0, ax_of) -> None:
    from deepscope.plots import plot_hessian_density

    for key in keys:
        grid = _part(df, "density", key, "grid", seed0)["value"].to_numpy()
        dens = _part(df, "density", key, "density", seed0)["value"].to_numpy()
        if grid.size == 0:
            continue
        arch, regime = key.split("/")
        ax = ax_of(arch)
        plot_hessian_density(SimpleNamespace(grid=grid, density=dens, kind="hessian"), ax=ax,
                             label=f"{key} batch")
        for line in ax.lines:
            if line.get_label() == f"{key} batch":
                line.set_color(_COLORS[regime])
        ax.legend(frameon=False, fontsize=8)


def _shared_levels(planes, keys, n: int = 16) -> np.ndarray:
    """log10-loss contour levels shared by the planes of ``keys`` (so they compare)."""
    z = np.concatenate([np.log10(np.maximum(planes[k].loss, 1e-12)).ravel()
                        for k in keys if k in planes])
    return np.linspace(z.min(), z.max(), n)


def _contours(planes, keys, axes) -> None:
    from deepscope.plots import plot_loss_contour

    for arch in dict.fromkeys(k.split("/")[0] for k in keys):
        same = [k for k in keys if k.startswith(arch + "/")]
        levels = _shared_levels(planes, same) if any(k in planes for k in same) else 16
        for key in same:
            if key in planes:
                plot_loss_contour(planes[key], ax=axes[keys.index(key)], levels=levels,
                                  title=f"{key} batch")


def contour_figure(planes, keys):
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(4.2 * len(keys), 3.9), layout="constrained")
    _contours(planes, keys, np.atleast_1d(fig.subplots(1, len(keys))))
    return fig


def _lines(df, keys, seed0, ax_of) -> list:
    from deepscope.report import Series

    series = []
    for key in keys:
        alpha = _part(df, "line", key, "alpha", seed0)["value"].to_numpy()
        loss = _part(df, "line", key, "loss").groupby("step")["value"].mean().to_numpy()
        arch, regime = key.split("/")
        ax = ax_of(arch)
        ax.semilogy(alpha, loss, color=_COLORS[regime], label=f"{key} batch",
                    ls="-" if arch == "cnn" else "--")
        ax.set_xlabel(r"$\alpha$ (filter-normalised direction)")
        ax.set_ylabel("train loss")
        ax.legend(fontsize=8)
        series.append(Series(name=key, x=alpha.tolist(), y=loss.tolist()))
    return series


def overview_figure(df, cfg, keys, seed0):
    """README picture: 1-D curves, contours of one network small vs large batch, its
    Hessian densities, and the barriers before/after alignment."""
    from matplotlib.figure import Figure as MplFigure

    planes = _planes(df, cfg, keys, seed0)
    archs = list(dict.fromkeys(k.split("/")[0] for k in keys))
    arch = "cnn" if "cnn" in archs else archs[0]
    pair = [k for k in keys if k.startswith(arch + "/")]
    fig = MplFigure(figsize=(13.0, 7.2), layout="constrained")
    axes = fig.subplots(2, 3)
    _lines(df, keys, seed0, lambda _arch: axes[0, 0])
    axes[0, 0].set_title("1-D loss, mean over seeds")
    _contours(planes, pair, axes[0, 1:1 + len(pair)])
    _density_axes(df, pair, seed0, lambda _arch: axes[1, 0])
    axes[1, 0].set_title(f"{arch}: Hessian density, seed {seed0}")
    for ax, a in zip(axes[1, 1:], archs):
        _barrier_axes(df, a, ax)
    for ax in list(axes[0, 1 + len(pair):]) + list(axes[1, 1 + len(archs):]):
        ax.set_axis_off()
    return fig


def figures(run) -> list:
    """Surfaces, 1-D curves, Hessian densities and the barrier plot."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.plots import plot_loss_surface
    from deepscope.report import Chart, Figure

    df = run.measurements()
    cfg = run.config
    keys = _keys(df)
    seed0 = run.seeds[0]
    archs = list(dict.fromkeys(k.split("/")[0] for k in keys))
    out = []
    # 1-D curves, mean over seeds (interactive)
    fig_l = MplFigure(figsize=(5.2 * len(archs), 3.8), layout="constrained")
    axes_l = np.atleast_1d(fig_l.subplots(1, len(archs)))
    series = _lines(df, keys, seed0, lambda arch: axes_l[archs.index(arch)])
    for ax, arch in zip(axes_l, archs):
        ax.set_title(arch)
    n_seeds = len(run.seeds)
    out.append(Figure(name="loss_lines", title="Loss along a filter-normalised direction",
                      caption=f"Train loss along one random filter-normalised direction around "
                              f"each minimum, mean over {n_seeds} seed(s). A sharper minimum "
                              f"rises faster.",
                      chart=Chart(x_label="alpha", y_label="train loss", series=series),
                      image=fig_l))
    planes = _planes(df, cfg, keys, seed0)
    out.append(Figure(name="loss_contours", title="Loss planes (contours of log10 loss)",
                      caption=f"Seed {seed0}; two filter-normalised random directions; the "
                              "star is the trained network.",
                      image=contour_figure(planes, keys)))
    fig_s = MplFigure(figsize=(4.2 * len(keys), 3.9), layout="constrained")
    for i, key in enumerate(keys):
        if key in planes:
            ax = fig_s.add_subplot(1, len(keys), i + 1, projection="3d")
            plot_loss_surface(planes[key], ax=ax, title=key)
    out.append(Figure(name="loss_surfaces", title="Loss surfaces (3-D)",
                      caption="The same planes as surfaces.", image=fig_s))
    fig_d = MplFigure(figsize=(5.2 * len(archs), 3.8), layout="constrained")
    axes_d = np.atleast_1d(fig_d.subplots(1, len(archs)))
    _density_axes(df, keys, seed0, lambda arch: axes_d[archs.index(arch)])
    for ax, arch in zip(axes_d, archs):
        ax.set_title(arch)
    out.append(Figure(name="hessian_density", title="Hessian spectral density (SLQ)",
                      caption=f"Seed {seed0}. Outliers to the right are the top eigenvalues.",
                      image=fig_d))
    if len(run.seeds) >= 2:
        out.append(Figure(name="barrier", title="Linear interpolation between two seeds",
                          caption="Train loss on the straight path between the seed-0 and "
                                  "seed-1 solutions, before (plain) and after aligning the "
                                  "hidden units of seed 1 to seed 0.",
                          image=barrier_figure(df, archs)))
    out.append(Figure(name="overview", title="Overview (the README picture)",
                      caption="Top: 1-D loss around each minimum (mean over seeds) and the "
                              "loss contours of one network, small vs large batch, on shared "
                              "levels. Bottom: its Hessian densities, and the straight path "
                              "between two seeds' solutions before and after neuron alignment "
                              "(when there are two seeds).",
                      image=overview_figure(df, cfg, keys, seed0)))
    return out
