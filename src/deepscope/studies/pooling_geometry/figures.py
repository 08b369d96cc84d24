"""Report of ``pooling-geometry``: accuracies with seed spread, rank bounds, examples."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["figures", "summary_table"]

_NETS = ("convac-square", "convac-mirror", "relu-square", "relu-mirror")


def _split(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df[["task", "net"]] = df.layer.str.split("|", expand=True)
    return df


def summary_table(run) -> pd.DataFrame:
    """One row per (task, net): test accuracy (mean, std, min-max over seeds), train
    accuracy, and for ConvACs the log2 separation-rank bounds of the matching partitions."""
    df = run.measurements()
    acc = _split(df[df.lens == "accuracy"])
    bounds = _split(df[df.lens == "rank_bound"])
    rows = []
    for (task, net), part in acc.groupby(["task", "net"], sort=False):
        test = part[part.metric == "test"].value
        train = part[part.metric == "train"].value
        row = {"task": task, "net": net, "test acc (mean)": float(test.mean()),
               "std": float(test.std(ddof=0)),
               "min-max": f"{test.min():.3f}-{test.max():.3f}",
               "train acc": float(train.mean()), "seeds": int(test.size)}
        b = bounds[(bounds.task == task) & (bounds.net == net)]
        for p in ("left-right", "checkerboard"):
            v = b[b.metric == f"log2:{p}"].value
            row[f"log2 rank bound {p}"] = float(v.max()) if len(v) else float("nan")
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table):
        table["order"] = table.net.map({n: i for i, n in enumerate(_NETS)})
        table = table.sort_values(["task", "order"]).drop(columns="order").reset_index(drop=True)
    return table


def figures(run) -> list:
    """Accuracy per task and net (seeds as dots), rank bounds, example images."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Figure

    df = run.measurements()
    acc = _split(df[(df.lens == "accuracy") & (df.metric == "test")])
    tasks = [t for t in ("closedness", "symmetry") if t in set(acc.task)]
    fig = MplFigure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, len(tasks) + 1, squeeze=False)[0]
    colors = {"convac-square": "#1f77b4", "convac-mirror": "#ff7f0e",
              "relu-square": "#aec7e8", "relu-mirror": "#ffbb78"}
    for ax, task in zip(axes, tasks):
        part = acc[acc.task == task]
        for i, net in enumerate(_NETS):
            vals = part[part.net == net].value.to_numpy()
            if not len(vals):
                continue
            ax.bar(i, vals.mean(), color=colors[net], width=0.7)
            ax.plot(np.full(len(vals), i) + np.linspace(-0.15, 0.15, len(vals)), vals, "k.",
                    ms=5)
        ax.set_xticks(range(len(_NETS)), [n.replace("-", "\n") for n in _NETS], fontsize=8)
        ax.set_ylim(0.45, 1.0)
        ax.axhline(0.5, color="gray", lw=0.8, ls=":")
        ax.set_title(f"{task}: test accuracy", fontsize=10)
    ax = axes[-1]
    bounds = _split(df[df.lens == "rank_bound"])
    parts = ("left-right", "top-bottom", "checkerboard", "odd-even")
    for j, net in enumerate(("convac-square", "convac-mirror")):
        vals = [bounds[(bounds.net == net) & (bounds.metric == f"log2:{p}")].value.max()
                for p in parts]
        ax.bar(np.arange(len(parts)) + (j - 0.5) * 0.38, vals, width=0.38, color=colors[net],
               label=net)
    ax.set_xticks(range(len(parts)), parts, fontsize=8)
    ax.set_ylabel("log2 separation-rank bound")
    ax.set_title("trained ConvACs (structure + weights)", fontsize=10)
    ax.legend(fontsize=8)
    figs = [Figure(name="pooling_geometry", title="Pooling geometry: accuracy and rank",
                   caption="Test accuracy of ConvACs and ReLU ConvNets with square and mirror "
                           "pooling (bars: mean over seeds; dots: seeds). Right: log2 of the "
                           "separation-rank bound of the trained ConvACs under each partition.",
                   image=fig)]
    ex = _split(df[df.lens == "example"])
    if len(ex):
        size = int(round(np.sqrt((ex.layer == ex.layer.iloc[0]).sum()
                                 / ex[ex.layer == ex.layer.iloc[0]].step.nunique())))
        fig2 = MplFigure(figsize=(8, 2.2 * len(tasks)), layout="constrained")
        grid = fig2.subplots(len(tasks), 8, squeeze=False)
        names = {("closedness", "1"): "closed", ("closedness", "0"): "open",
                 ("symmetry", "1"): "symmetric", ("symmetry", "0"): "asymmetric"}
        for r, task in enumerate(tasks):
            for col, label in enumerate(("1", "0")):
                rows = ex[(ex.task == task) & (ex.net == label)]
                for k, (_, img) in enumerate(rows.groupby("step", sort=True)):
                    a = grid[r, col * 4 + k]
                    a.imshow(img.value.to_numpy().reshape(size, size), cmap="gray_r",
                             vmin=0, vmax=1)
                    a.set_xticks([])
                    a.set_yticks([])
                    if k == 0:
                        a.set_title(names[(task, label)], fontsize=9)
        figs.append(Figure(name="examples", title="Example test images",
                           caption="Four test images per class of each task.", image=fig2))
    return figs
