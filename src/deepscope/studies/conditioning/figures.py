"""Figures of the ``conditioning`` study."""

from __future__ import annotations

import numpy as np

LABELS = {"cond_WtW": "W^T W (fc)", "cond_conv": "conv 3x3 curvature",
          "cond_conv_whitened": "conv, whitened"}


def _condition_panel(ax, cond) -> str:
    ns = cond.index.to_numpy(float)
    for metric, label in LABELS.items():
        if metric in cond:
            ax.loglog(ns, cond[metric].to_numpy(), "-o", ms=4, label=label)
    text = ""
    if "cond_WtW" in cond and len(ns) >= 2:
        wtw = cond["cond_WtW"].to_numpy()
        slope = np.polyfit(np.log(ns), np.log(wtw), 1)[0]
        ax.loglog(ns, wtw[0] * (ns / ns[0]) ** 3.5, "k:", lw=1, label="n^3.5 (guide)")
        text = f"log-log slope of cond(W^T W): {slope:.2f}"
        ax.set_title(text, fontsize=9)
    ax.set_xlabel("n (samples per curve)")
    ax.set_ylabel("condition number")
    ax.legend(fontsize=7)
    return text


def _error_panel(ax, df, thr: float, n: int, run_n: int) -> list:
    from deepscope.report import Series

    tr = df[df.lens == "training"]
    gd = df[df.lens == "population_gd"]
    hits = df[(df.lens == "summary") & (df.metric == "gd_iterations_to_threshold")]
    hits = hits.groupby("layer")["value"].mean()
    horizon = 10 * float(np.nanmax(hits.to_numpy())) if len(hits) else np.inf
    series = []
    for i, name in enumerate(("fc", "conv", "conv+conditioning")):
        part = tr[(tr.layer == name) & (tr.step > 0)]
        if len(part):
            mean = part.groupby("step")["value"].mean()
            ax.semilogx(mean.index, mean.to_numpy(), "-", color=f"C{i}", lw=2.2,
                        label=f"{name}: SGD")
            series.append(Series(name=f"{name}: SGD", x=mean.index.tolist(),
                                 y=mean.tolist()))
        curve = gd[(gd.layer == name) & (gd.step > 0) & (gd.step <= horizon)]
        curve = curve.groupby("step")["value"].mean()
        if len(curve):
            ax.semilogx(curve.index, curve.to_numpy(), "--", color=f"C{i}", lw=1,
                        label=f"{name}: exact GD")
            series.append(Series(name=f"{name}: exact gradient descent",
                                 x=curve.index.tolist(), y=curve.tolist()))
        if name in hits and np.isfinite(hits[name]):
            ax.plot([max(hits[name], 1)], [thr], "v", color=f"C{i}", ms=8)
            ax.annotate(f"{hits[name]:.1e}" if hits[name] >= 1000 else f"{hits[name]:.0f}",
                        (max(hits[name], 1), thr), textcoords="offset points",
                        xytext=(0, 8), ha="center", fontsize=7, color=f"C{i}")
    ax.axhline(thr, color="grey", ls=":", lw=1)
    if len(tr):
        ax.axvline(float(tr.step.max()), color="grey", ls="-", lw=0.6)
    check = df[(df.lens == "summary_check") & (df.metric == "iterations_to_threshold")]
    check = check.groupby("layer")["value"].mean()
    if len(check):
        parts = ", ".join(f"{name} {check[name]:,.0f}" for name in
                          ("fc", "conv", "conv+conditioning") if name in check)
        ax.set_title(f"curves: n = {n}. SGD iterations to error {thr} at n = {run_n}:\n"
                     f"{parts}", fontsize=8)
    ax.set_ylim(-0.03, 1.12)
    ax.set_xlabel("iteration")
    ax.set_ylabel("relative test error |p_hat - p|^2 / |p|^2")
    ax.legend(fontsize=7, loc="center", bbox_to_anchor=(0.32, 0.42))
    return series


def _example_panel(ax, df) -> None:
    ex = df[df.lens == "example"]
    if not len(ex):
        return
    seed = ex.seed.min() if "seed" in ex else None
    ex = ex[ex.seed == seed] if seed is not None else ex
    for i, name in enumerate(("truth", "fc", "conv", "conv+conditioning")):
        part = ex[ex.layer == name]
        if not len(part):
            continue
        pos = part[part.metric == "position"].value.to_numpy()
        val = part[part.metric == "p_hat"].value.to_numpy()
        if name == "truth":
            nz = val != 0
            ax.plot(pos[nz], val[nz], "o", color="k", ms=8, mfc="none", label="true p")
        else:
            ax.plot(pos, val, "-", color=f"C{i - 1}", lw=1.2, label=name)
    ax.set_xlabel("position j")
    ax.set_ylabel("p_j (slope change)")
    step = int(ex.step.max())
    ax.set_title(f"one test curve after {step:,} SGD iterations", fontsize=9)
    ax.legend(fontsize=7)


def conditioning_figures(run) -> list:
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Chart, Figure

    df = run.measurements()
    cond = df[df.lens == "conditioning"].pivot_table(index="step", columns="metric",
                                                     values="value")
    thr = run.config.get("error_threshold")
    fig = MplFigure(figsize=(14, 4.2), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    slope_text = _condition_panel(ax1, cond)
    series = _error_panel(ax2, df, thr, run.config.get("n"), run.config.get("check_n"))
    _example_panel(ax3, df)
    return [
        Figure(name="conditioning", title="Condition numbers and convergence",
               caption=f"Left: condition numbers against n ({slope_text}); whitening the "
                       "convolution's patches gives 1. Middle: relative test error of the "
                       "three learners, SGD within the budget (thick, grey line: budget) "
                       "and gradient descent on the exact population loss (dashed, closed "
                       f"form); triangles: iterations to error {thr}. Right: one test "
                       "curve's slope changes p recovered by each learner.", image=fig),
        Figure(name="conditioning_error", title="Relative test error (interactive)",
               caption="SGD (mean over seeds) and exact population gradient descent.",
               chart=Chart(x_label="iteration", y_label="relative test error", log_x=True,
                           series=series)),
    ]
