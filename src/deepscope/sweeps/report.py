"""The aggregated report of a sweep: ``<root>/sweeps/<id>/report.html``.

It shows, on the run report's page layout:

1. every metric by cell over the steps: mean over seeds with a 95% confidence band;
2. the final value of every metric by cell, mean with its confidence interval;
3. the study's own figures, one small multiple per cell (all of a cell's seeds);
4. a table of what differs between cells against the spread over seeds
   (:func:`deepscope.sweeps.aggregate.differences`) and the per-cell table.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepscope.sweeps.aggregate import cell_summary, curves, differences

__all__ = ["build_sweep_report"]

_MAX_PANELS = 16
_MAX_CELLS = 8
_MAX_STUDY_FIGURES = 3


def _cell_labels(sweep: Any) -> dict[int, str]:
    cells = sweep.cells()
    grid = list(sweep.grid)
    if not grid:
        return {0: "all"}
    return {int(r["cell"]): ", ".join(f"{k}={r[k]}" for k in grid)
            for _, r in cells.iterrows()}


def _grid_axes(n: int, width: float = 3.2, height: float = 2.4) -> tuple[Any, list]:
    from matplotlib.figure import Figure as MplFigure

    cols = min(4, n)
    rows = math.ceil(n / cols)
    total = height * rows + 0.7  # inches: room for titles above, the legend below
    fig = MplFigure(figsize=(width * cols, total))
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 0.35 / total, bottom=0.85 / total,
                        hspace=0.55, wspace=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def _curves_figure(curve: pd.DataFrame, names: list[str], labels: dict[int, str]) -> Any:
    fig, axes = _grid_axes(len(names))
    colors = _colors(len(labels))
    for ax, name in zip(axes, names):
        sub = curve[curve["name"] == name]
        for k, (cell, label) in enumerate(labels.items()):
            c = sub[sub["cell"] == cell].sort_values("step")
            if c.empty:
                continue
            ax.plot(c["step"], c["mean"], color=colors[k], lw=1.4, label=label)
            ax.fill_between(c["step"], c["ci_low"], c["ci_high"], color=colors[k], alpha=0.2,
                            lw=0)
        steps = np.unique(sub["step"].to_numpy())
        if len(steps) > 2 and steps[-1] > 30 * max(1, steps[1]):
            ax.set_xscale("symlog", linthresh=1)  # log-spaced captures (info-plane)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    handles, texts = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, texts, loc="lower center", ncols=min(4, len(texts)),
                   fontsize=8, frameon=False)
    return fig


def _final_figure(summary: pd.DataFrame, names: list[str], labels: dict[int, str]) -> Any:
    fig, axes = _grid_axes(len(names), height=0.9 + 0.28 * len(labels))
    fig.subplots_adjust(left=0.12, wspace=0.9)
    colors = _colors(len(labels))
    order = list(labels)
    for ax, name in zip(axes, names):
        sub = summary[summary["name"] == name].set_index("cell")
        for y, cell in enumerate(order):
            if cell not in sub.index:
                continue
            row = sub.loc[cell]
            err = None
            if np.isfinite(row["ci_low"]):
                err = [[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]]
            ax.errorbar([row["mean"]], [y], xerr=err, fmt="o", color=colors[y], ms=4,
                        capsize=2)
        ax.set_yticks(range(len(order)), [labels[c] for c in order], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(name, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    return fig


class _CellRun:
    """All runs of one cell seen as one run (what a study's ``figures(run)`` reads)."""

    def __init__(self, runs: list[Any]) -> None:
        self._runs = runs
        first = runs[0]
        self.id, self.study, self.path = first.id, first.study, first.path
        self.manifest = dict(first.manifest)
        self.manifest["seeds"] = self.seeds
        self.config = dict(first.config)
        self.config["seeds"] = len(self.seeds)
        self.config["first_seed"] = min(self.seeds)
        self.manifest["config"] = self.config
        self.status = first.status

    @property
    def seeds(self) -> list[int]:
        return sorted({s for r in self._runs for s in r.seeds})

    def measurements(self) -> pd.DataFrame:
        return pd.concat([r.measurements() for r in self._runs], ignore_index=True)

    def __getattr__(self, name: str) -> Any:  # artifact_path, figures_dir, ...
        return getattr(self._runs[0], name)


def _render(image: Any, label: str) -> np.ndarray:
    """A study's figure, titled with its cell, as an RGB array."""
    from matplotlib.image import imread

    image.suptitle(label, fontsize=11, fontweight="bold")
    buf = io.BytesIO()
    image.savefig(buf, format="png", dpi=80, facecolor="white")
    buf.seek(0)
    return imread(buf)[..., :3]


class _Png:
    """Small multiples composed from already drawn images: a PNG that only needs writing.

    Duck-types the ``savefig`` of a matplotlib figure for :class:`deepscope.report.Figure`.
    """

    def __init__(self, panels: list[np.ndarray], cols: int = 3, pad: int = 12) -> None:
        h = max(p.shape[0] for p in panels)
        w = max(p.shape[1] for p in panels)
        rows = math.ceil(len(panels) / cols)
        cols = min(cols, len(panels))
        grid = np.ones((rows * (h + pad), cols * (w + pad), 3), dtype=np.float32)
        for k, p in enumerate(panels):
            r, c = divmod(k, cols)
            grid[r * (h + pad):r * (h + pad) + p.shape[0],
                 c * (w + pad):c * (w + pad) + p.shape[1]] = p
        self.array = grid

    def savefig(self, fh: Any, format: str = "png", **_: Any) -> None:  # noqa: A002
        from matplotlib.image import imsave

        imsave(fh, self.array, format="png")


def _study_figures(sweep: Any, labels: dict[int, str]) -> tuple[list, list[str]]:
    """The study's figures per cell, as small multiples (one figure per study figure)."""
    from deepscope.report import Figure
    from deepscope.store import Run
    from deepscope.studies import get

    study = get(sweep.study)
    paths = sweep.run_paths()
    by_cell: dict[int, list[Any]] = {}
    for entry in sweep.manifest["runs"]:
        path = paths.get(entry["run_id"])
        if path is not None and entry["cell"] in labels:
            run = Run(path)
            if run.status == "done":
                by_cell.setdefault(entry["cell"], []).append(run)
    cells = list(by_cell)[:_MAX_CELLS]
    notes = []
    if len(by_cell) > _MAX_CELLS:
        notes.append(f"The study's figures are shown for the first {_MAX_CELLS} of "
                     f"{len(by_cell)} cells.")
    panels: dict[str, list[tuple[int, np.ndarray]]] = {}
    titles: dict[str, str] = {}
    for cell in cells:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                figs = study.figures(_CellRun(by_cell[cell]))
        except Exception as exc:  # a study figure that cannot draw a merged cell
            notes.append(f"The study's figures failed for cell {labels[cell]}: "
                         f"{type(exc).__name__}: {exc}")
            continue
        kept = [f for f in figs if f.image is not None][:_MAX_STUDY_FIGURES]
        for f in kept:
            titles.setdefault(f.name, f.title)
            panels.setdefault(f.name, []).append(_render(f.image, labels[cell]))
    out = []
    for name, items in panels.items():
        out.append(Figure(f"cells-{name}", f"{titles[name]}, by cell", image=_Png(items),
                          caption="The study's own figure for every cell (all its seeds), "
                                  "titled with the cell."))
    return out, notes


class _SweepPage:
    """What :func:`deepscope.report.build_report` reads, made from a sweep."""

    def __init__(self, sweep: Any) -> None:
        m = sweep.manifest
        self.id, self.study, self.path = sweep.id, sweep.study, sweep.path
        self.status = sweep.status
        self.figures_dir = sweep.figures_dir
        keep = ("id", "study", "created", "started", "finished", "elapsed_s", "resumed",
                "seeds", "host", "versions", "error", "executor", "counts")
        self.manifest = {k: m.get(k) for k in keep}
        self.manifest["status"] = self.status
        self.manifest["cells"] = len(m["cells"])
        self.manifest["runs"] = len(m["runs"])
        self.manifest["config"] = {"grid": m["grid"], "fixed": m["fixed"],
                                   "seed_group": m["seed_group"]}


def build_sweep_report(sweep: Any) -> Path:
    """Write the aggregated report of ``sweep`` and return its path."""
    from deepscope.report import Figure, build_report
    from deepscope.report.page import _frame_table
    from deepscope.store._io import write_atomic

    labels = _cell_labels(sweep)
    summary = cell_summary(sweep)
    notes = []
    figures = []
    names = list(dict.fromkeys(summary["name"]))
    if len(names) > _MAX_PANELS:
        notes.append(f"Charts show the first {_MAX_PANELS} of {len(names)} metrics; the "
                     "tables list them all.")
    shown = names[:_MAX_PANELS]
    if shown:
        curve = curves(sweep, shown)
        if curve["step"].nunique() > 1:
            figures.append(Figure(
                "metrics-by-cell", "Every metric by cell over training",
                image=_curves_figure(curve, shown, labels),
                caption="Mean over seeds (line) and its 95% confidence band (shaded), one "
                        "colour per cell."))
        figures.append(Figure(
            "final-by-cell", "Final value of every metric by cell",
            image=_final_figure(summary, shown, labels),
            caption="Mean over seeds of each metric at the run's last step, with its 95% "
                    "confidence interval (Student t)."))
    study_figs, more = _study_figures(sweep, labels)
    figures.extend(study_figs)
    notes.extend(more)
    diff = differences(sweep)
    failed = [r for r in sweep.manifest["runs"] if r["status"] not in ("done", "pending")]
    if failed:
        notes.append(f"{len(failed)} run(s) did not finish: "
                     + "; ".join(f"{r['run_id']} ({r['status']}: "
                                 f"{str(r.get('error') or '').splitlines()[0][:120]})"
                                 for r in failed[:10]))
    notes.append("A difference is 'beyond noise' when Welch's t-test between the axis' values "
                 "with the largest and smallest mean gives p < 0.05 (seeds of the other axes "
                 "pooled); seed_std is the within-cell spread over seeds.")
    page = _SweepPage(sweep)
    path = build_report(page, figures, summary=diff, notes=notes)
    html = path.read_text(encoding="utf-8")
    html = html.replace("deepscope run report", "deepscope sweep report", 1)
    html = html.replace("<h2>Summary</h2>", "<h2>What differs between cells</h2>", 1)
    cells_html = (f'<section class="card summary"><h2>Every metric by cell</h2>'
                  f"{_frame_table(summary)}</section>\n")
    html = html.replace("<footer>", cells_html + "<footer>", 1)
    write_atomic(path, html.encode("utf-8"))
    return path
