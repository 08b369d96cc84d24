"""Figures and summary table of the ``linear-regions`` study."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["linear_regions_figures", "linear_regions_summary"]


def _mean(df: pd.DataFrame, lens: str) -> pd.DataFrame:
    part = df[df["lens"] == lens]
    wide = part.pivot_table(index=["layer", "step"], columns="metric", values="value",
                            aggfunc="mean").reset_index()
    wide.columns.name = None
    order = {name: k for k, name in enumerate(dict.fromkeys(part["layer"]))}
    wide = wide.sort_values(["layer", "step"], key=lambda c: c.map(order) if c.name == "layer"
                            else c, kind="stable")
    return wide.reset_index(drop=True)


def _small_multiples(run):
    from matplotlib.figure import Figure as MplFigure

    from deepscope.plots import plot_regions

    from deepscope.studies.linear_regions.partitions import first_partitions

    payload = first_partitions(run.artifact_path("partitions"))
    if payload is None:
        return None
    parts = payload["partitions"]
    steps = sorted(parts)
    cols = min(4, len(steps))
    rows = -(-len(steps) // cols)
    fig = MplFigure(figsize=(3.2 * cols, 2.3 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    pts, labels = payload["points"], payload["labels"]
    for ax, step in zip(axes, steps):
        res = parts[step]
        plot_regions(res, ax=ax, boundary=True, title=f"step {step}: {res.count} regions")
        if ax.collections:  # pale regions, so the data points stay readable on top
            ax.collections[0].set_alpha(0.3)
        ax.scatter(pts[:, 0], pts[:, 1], c=np.where(labels == 1, "tab:red", "tab:blue"),
                   s=14, edgecolors="black", linewidths=0.5, zorder=5)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(steps):]:
        ax.set_axis_off()
    return fig, payload["task"], steps


def _over_training(tr: pd.DataFrame):
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    for model, part in tr.groupby("layer", sort=False):
        s = part["step"].to_numpy() + 1
        line = axes[0].plot(s, part["segment_density_per_neuron"], "o-", label=f"{model} near")
        axes[0].plot(s, part["far_segment_density_per_neuron"], "x--",
                     color=line[0].get_color(), label=f"{model} far")
        if "plane_density_per_neuron2" in part and part["plane_density_per_neuron2"].notna().any():
            axes[1].plot(s, part["plane_density_per_neuron2"], "o-", label=model)
        axes[2].plot(s, part["test_acc"], "o-", label=model)
    titles = ("regions per unit length / neurons", "regions per unit area / neurons^2",
              "test accuracy")
    for ax, title in zip(axes, titles):
        ax.set_xscale("log")
        ax.set_xlabel("step + 1")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    return fig


def _sweep(sw: pd.DataFrame):
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    sw = sw.assign(kind=sw["layer"].str.split().str[0])
    panels = (("toy", "segment_density_per_neuron", "2-D input: regions / length / neurons"),
              ("toy", "plane_density_per_neuron2", "2-D input: regions / area / neurons^2"),
              ("digits", "segment_density_per_neuron", "digits: regions / length / neurons"))
    for ax, (kind, metric, title) in zip(axes, panels):
        part = sw[sw["kind"] == kind]
        for width, w_part in part.groupby("width"):
            w_part = w_part.sort_values("depth")
            ax.plot(w_part["depth"], w_part[metric], "o-", label=f"width {int(width)}")
        ax.set_xlabel("hidden layers")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    return fig


def linear_regions_figures(run) -> list:
    """Partition small multiples, densities over training, the init sweep."""
    from deepscope.report import Chart, Figure, Series

    df = run.measurements()
    out = []
    multiples = _small_multiples(run)
    if multiples is not None:
        fig, task, steps = multiples
        out.append(Figure(
            name="partition", title=f"The input partition over training ({task})",
            caption="Exact linear regions of the 2-D MLP in the data box (pale random "
                    "colours, one per region) and its decision boundary (black) at steps " + ", ".join(map(str, steps))
                    + "; dots are training points (red and blue: the two classes).", image=fig))
    tr = _mean(df, "regions")
    if len(tr):
        series = [Series(name=f"{model} near data", x=(part["step"] + 1).tolist(),
                         y=part["segment_density_per_neuron"].tolist(),
                         hover=[f"{model} · step {s} · {v:.3f} per unit length per neuron"
                                for s, v in zip(part["step"],
                                                part["segment_density_per_neuron"])])
                  for model, part in tr.groupby("layer", sort=False)]
        out.append(Figure(
            name="densities", title="Region densities over training",
            caption="Near: segments between training points; far: the same segments "
                    "shifted far from the data. Normalised by the number of ReLU units "
                    "(squared for areas), as Hanin & Rolnick.",
            image=_over_training(tr),
            chart=Chart(x_label="step + 1", y_label="regions / length / neurons",
                        series=series, log_x=True, log_color=False)))
    sw = _mean(df, "init_sweep")
    if len(sw):
        out.append(Figure(
            name="init_sweep", title="At initialisation: width x depth",
            caption="Regions per unit length (and area) divided by the number of neurons "
                    "(squared) at PyTorch's default initialisation: about constant in depth.",
            image=_sweep(sw)))
    return out


def linear_regions_summary(run) -> pd.DataFrame:
    """Per model: densities at initialisation and at the end of training, accuracy."""
    tr = _mean(run.measurements(), "regions")
    rows = []
    for model, part in tr.groupby("layer", sort=False):
        part = part.sort_values("step")
        first, last = part.iloc[0], part.iloc[-1]
        row = {"model": model, "neurons": int(first["neurons"]), "final step": int(last["step"])}
        for key, label in (("segment_density_per_neuron", "length density / N"),
                           ("far_segment_density_per_neuron", "far length density / N"),
                           ("plane_density_per_neuron2", "area density / N^2")):
            if key in part and np.isfinite(first.get(key, np.nan)):
                row[f"{label} init"] = round(float(first[key]), 4)
                row[f"{label} final"] = round(float(last[key]), 4)
        row["test acc final"] = round(float(last["test_acc"]), 3)
        rows.append(row)
    return pd.DataFrame(rows)
