"""Figures of the ``parity`` study."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _dims(layer: pd.Series) -> np.ndarray:
    return layer.str.extract(r"d=(\d+)")[0].astype(int).to_numpy()


def variance_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Columns ``d, seed, variance, g_sq, mean_sq_norm, exact`` from a run's rows."""
    g = df[df.lens == "gradients"]
    wide = g.pivot_table(index=["layer", "seed"], columns="metric", values="value").reset_index()
    wide.columns.name = None
    wide["d"] = _dims(wide["layer"])
    return wide.drop(columns="layer").sort_values(["d", "seed"]).reset_index(drop=True)


def accuracy_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Columns ``d, seed, step, accuracy`` of the training evaluations."""
    t = df[(df.lens == "training") & (df.metric == "accuracy")]
    return pd.DataFrame({"d": _dims(t["layer"]), "seed": t["seed"].to_numpy(),
                         "step": t["step"].to_numpy(), "accuracy": t["value"].to_numpy()})


def periodic_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Columns ``d, r, variance, mean_sq_norm`` of the linear-periodic measurements."""
    p = df[df.lens == "periodic"]
    wide = p.pivot_table(index="layer", columns="metric", values="value").reset_index()
    parts = wide["layer"].str.extract(r"d=(\d+),r=([0-9.eE+-]+)")
    wide["d"] = parts[0].astype(int)
    wide["r"] = parts[1].astype(float)
    return wide.drop(columns="layer").sort_values(["d", "r"]).reset_index(drop=True)


def parity_figures(run) -> list:
    from matplotlib.figure import Figure as MplFigure

    from deepscope.plots.gradients import plot_accuracy_curves, plot_variance_vs_d
    from deepscope.report import Chart, Figure, Series

    df = run.measurements()
    var, acc = variance_frame(df), accuracy_frame(df)
    fin = df[df.lens == "final"]
    finals = pd.DataFrame({"d": list(_dims(fin.layer)), "v": fin.value.to_numpy()})
    per_d = finals.groupby("d")["v"].agg(["mean", "min", "max", "size"])
    fin_text = "; ".join(
        f"d = {d}: {r['mean']:.2f}" + (f" ({r['min']:.2f}-{r['max']:.2f} over {int(r['size'])} "
                                       "seeds)" if r["size"] > 1 and r["max"] > r["min"] else "")
        for d, r in per_d.iterrows())
    fig = MplFigure(figsize=(11, 4.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plot_accuracy_curves(acc, ax=ax1)
    ax1.set_title("Learning parities with SGD (hinge loss)")
    plot_variance_vs_d(var, ax=ax2)
    ax2.set_title("Gradient variance across parities (Theorem 1)")
    figs = [Figure(name="parity", title="Accuracy against iterations, and the gradient "
                   "variance against d",
                   caption="Left: test accuracy on fresh samples (mean over seeds); a net "
                           "stops at the target accuracy. Right: log2 of the exact variance "
                           "over all 2^d parities at initialisation (hollow: estimated from "
                           "sampled inputs), Theorem 1's bound G²/2^d dashed. Final test "
                           f"accuracy: {fin_text}.",
                   image=fig)]
    series = []
    for d, part in acc.dropna(subset=["accuracy"]).groupby("d"):
        mean = part.groupby("step")["accuracy"].mean()
        series.append(Series(name=f"d={d}", x=mean.index.tolist(), y=mean.tolist()))
    if series:
        figs.append(Figure(name="parity_accuracy", title="Test accuracy (interactive)",
                           caption="Mean over seeds; hover for values.",
                           chart=Chart(x_label="SGD iteration", y_label="test accuracy",
                                       series=series)))
    per = periodic_frame(df) if (df.lens == "periodic").any() else None
    if per is not None and len(per):
        pfig = MplFigure(figsize=(5.6, 4.0), layout="constrained")
        ax = pfig.add_subplot()
        for i, (d, part) in enumerate(per.groupby("d")):
            ax.semilogy(part["r"], part["variance"], "-o", color=f"C{i}", label=f"d = {d}")
        ax.set_xlabel("frequency r")
        ax.set_ylabel("gradient variance across v (Monte-Carlo)")
        ax.legend(fontsize=8)
        ax.set_title("Linear-periodic targets cos(r v·x)")
        figs.append(Figure(name="periodic", title="Linear-periodic family",
                           caption="Variance of the square-loss gradient across sampled unit "
                                   "directions v, Gaussian x, at initialisation. Finite "
                                   "samples put a floor of about E||grad||²/n under it.",
                           image=pfig))
    return figs
