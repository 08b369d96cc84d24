"""Figures and summary table of the ``matrix-factorization`` study."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["figures", "summary_table"]


def _ref(df: pd.DataFrame) -> pd.DataFrame:
    return df[df.lens == "reference"].pivot_table(index="layer", columns="metric",
                                                  values="value")


def _alpha(layer: str) -> float:
    return float(layer.split("=", 1)[1])


def summary_table(run) -> pd.DataFrame:
    """Final relative errors (to X*, to the min-nuclear-norm solution), nuclear norm, residual
    and steps, per alpha; then the two reference interpolants."""
    df = run.measurements()
    path = df[df.lens == "path"]
    rows = []
    for layer in sorted(set(path.layer), key=_alpha, reverse=True):
        part = path[path.layer == layer]
        last = part[part.step == part.step.max()].set_index("metric").value
        rows.append({"solution": f"GD, {layer}", "rel. error to X*": last["rel_error"],
                     "rel. error to min-nuclear": last["rel_to_min_nuclear"],
                     "nuclear norm": last["nuclear_norm"], "residual": last["residual"],
                     "steps": int(part.step.max())})
    ref = _ref(df)
    for layer, label in (("min_frobenius", "min-Frobenius interpolant"),
                         ("min_nuclear", "min-nuclear-norm (ADMM)"), ("x_star", "X*")):
        if layer in ref.index:
            r = ref.loc[layer]
            rows.append({"solution": label, "rel. error to X*": r["rel_error"],
                         "rel. error to min-nuclear": r["rel_to_min_nuclear"],
                         "nuclear norm": r["nuclear_norm"], "residual": r["residual"],
                         "steps": np.nan})
    return pd.DataFrame(rows)


def figures(run) -> list:
    """Relative error and nuclear norm along the path for every alpha; final error vs alpha."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Figure

    df = run.measurements()
    path = df[df.lens == "path"]
    ref = _ref(df)
    layers = sorted(set(path.layer), key=_alpha, reverse=True)
    fig = MplFigure(figsize=(13, 4), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    finals = []
    for i, layer in enumerate(layers):
        part = path[path.layer == layer]
        err = part[part.metric == "rel_error"].sort_values("step")
        nuc = part[part.metric == "nuclear_norm"].sort_values("step")
        ax1.plot(err.step, err.value, color=f"C{i}", label=f"α = {_alpha(layer):g}")
        ax2.plot(nuc.step, nuc.value, color=f"C{i}", label=f"α = {_alpha(layer):g}")
        finals.append((_alpha(layer), float(err.value.iloc[-1])))
    if "min_frobenius" in ref.index:
        for ax in (ax1, ax3):
            ax.axhline(ref.loc["min_frobenius", "rel_error"], color="gray", ls="--",
                       label="min-Frobenius interpolant")
        ax2.axhline(ref.loc["min_frobenius", "nuclear_norm"], color="gray", ls="--",
                    label="min-Frobenius")
    if "min_nuclear" in ref.index:
        ax2.axhline(ref.loc["min_nuclear", "nuclear_norm"], color="black", ls=":",
                    label="min-nuclear (ADMM)")
    ax1.set(xscale="log", yscale="log", xlabel="GD step", ylabel="‖X − X*‖_F / ‖X*‖_F",
            title="relative error to X*")
    ax2.set(xscale="log", yscale="log", xlabel="GD step", ylabel="‖X‖_*",
            title="nuclear norm along the path")
    if finals:
        a, e = zip(*finals)
        ax3.loglog(a, e, "o-", color="C0", label="GD, final")
    ax3.set(xlabel="α (U₀ = α I)", ylabel="final relative error",
            title="final error against initial scale")
    for ax in (ax1, ax2, ax3):
        ax.legend(fontsize=7)
    table = summary_table(run)
    text = "; ".join(f"{r['solution']}: {r['rel. error to X*']:.2g}"
                     for _, r in table.iterrows())
    return [Figure(name="matrix_factorization",
                   title="Implicit regularization in matrix factorization (Gunasekar et al.)",
                   caption="Gradient descent on X = UU^T from U₀ = αI with fewer measurements "
                           "than unknowns. Final relative errors to X*: " + text + ".",
                   image=fig)]
