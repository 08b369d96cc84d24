"""Report of ``depth-efficiency``: rank tables and figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["figures", "summary_table"]


def _ranks(run) -> pd.DataFrame:
    df = run.measurements()
    df = df[df.lens == "separation_rank"].copy()
    df[["arch", "M", "r"]] = df.layer.str.extract(r"^(.*) M=(\d+) r=(\d+)$")
    df["M"], df["r"] = df.M.astype(int), df.r.astype(int)
    return df


def summary_table(run) -> pd.DataFrame:
    """One row per (N, M, r, net): ranks on odd-even, left-right and the random balanced
    partitions (min-max over seeds), the theorem's value, and whether every rank equals
    the structural bound."""
    df = _ranks(run)
    rows = []
    for (n, m, r, arch), part in df.groupby(["step", "M", "r", "arch"], sort=True):
        def span(metric_prefix: str) -> str:
            vals = part[part.metric.str.startswith(metric_prefix)].value
            lo, hi = int(vals.min()), int(vals.max())
            return f"{lo}" if lo == hi else f"{lo}-{hi}"

        ranks = part[part.metric.str.startswith("rank:")].sort_values(["seed", "metric"])
        bounds = part[part.metric.str.startswith("bound:")].sort_values(["seed", "metric"])
        rows.append({"N": int(n), "M": int(m), "r": int(r), "net": arch,
                     "odd-even": span("rank:odd-even"), "left-right": span("rank:left-right"),
                     "random balanced": span("rank:random"),
                     "theorem min(r,M)^(N/2)": int(part[part.metric == "theorem"].value.iloc[0]),
                     "rank = bound": bool(np.array_equal(ranks.value.to_numpy(),
                                                         bounds.value.to_numpy()))})
    order = {"deep-square": 0, "deep-mirror": 1, "shallow Z=r": 2}
    table = pd.DataFrame(rows)
    if len(table):
        table = table.sort_values(["N", "M", "r", "net"], key=lambda c: c.map(order)
                                  if c.name == "net" else c).reset_index(drop=True)
    return table


def cp_table(run) -> pd.DataFrame:
    """One row per N: CP-term lower bound, ALS upper bound (per seed), theorem, generic."""
    df = run.measurements()
    df = df[df.lens == "cp_rank"]
    rows = []
    for n, part in df.groupby("step"):
        piv = part.pivot_table(index="seed", columns="metric", values="value")
        rows.append({"N": int(n), "theorem r^(N/2)": int(piv.theorem.iloc[0]),
                     "lower (matricization)": " / ".join(str(int(v)) for v in piv.lower),
                     "upper (ALS)": " / ".join("-" if np.isnan(v) else str(int(v))
                                               for v in piv.upper),
                     "generic rank of 2^N": int(piv.generic.iloc[0]),
                     "ALS s": " / ".join(f"{v:.1f}" for v in piv.als_s)})
    return pd.DataFrame(rows)


def figures(run) -> list:
    """Ranks against N and r, CP terms against N, and matricization spectra."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Figure

    df = _ranks(run)
    mean = df.groupby(["step", "M", "r", "arch", "metric"]).value.mean().reset_index()
    fig = MplFigure(figsize=(13, 3.9), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    sel = mean[(mean.M == 2) & (mean.r == 2)]
    styles = {"deep-square": "-o", "deep-mirror": "--s", "shallow Z=r": ":^"}
    for arch, style in styles.items():
        for metric, label in (("rank:odd-even", "odd-even"), ("rank:left-right", "left-right")):
            p = sel[(sel.arch == arch) & (sel.metric == metric)]
            if len(p):
                ax1.plot(p.step, np.log2(p.value), style, label=f"{arch}, {label}", ms=4)
    th = sel[(sel.arch == "deep-square") & (sel.metric == "theorem")]
    ax1.plot(th.step, np.log2(th.value), color="gray", lw=6, alpha=0.25,
             label="theorem 2^(N/2)")
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("N (positions)")
    ax1.set_ylabel("log2 separation rank")
    ax1.set_title("M = 2, r = 2", fontsize=10)
    ax1.legend(fontsize=7)
    n8 = mean[(mean.step == 8) & (mean.metric == "rank:odd-even")]
    for m in sorted(n8.M.unique()):
        p = n8[(n8.M == m) & (n8.arch == "deep-square")]
        line, = ax2.plot(p.r, p.value, "-o", ms=4, label=f"deep, M={m}")
        q = n8[(n8.M == m) & (n8.arch == "shallow Z=r")]
        ax2.plot(q.r, q.value, ":^", ms=4, color=line.get_color(), label=f"shallow Z=r, M={m}")
    ax2.set_yscale("log", base=2)
    ax2.set_xlabel("channels r (shallow: terms Z = r)")
    ax2.set_ylabel("rank, odd-even partition")
    ax2.set_title("N = 8: deep gives min(r, M)^4, shallow r", fontsize=10)
    ax2.legend(fontsize=7)
    cp = run.measurements()
    cp = cp[cp.lens == "cp_rank"]
    if len(cp):
        piv = cp.pivot_table(index=["step", "seed"], columns="metric", values="value")
        piv = piv.reset_index()
        ax3.plot(piv.step, piv.upper, "o", label="ALS upper bound (per seed)")
        g = piv.groupby("step").mean(numeric_only=True).reset_index()
        ax3.plot(g.step, g.lower, "-s", label="matricization lower bound")
        ax3.plot(g.step, g.theorem, "--", color="gray", label="theorem r^(N/2)")
        ax3.plot(g.step, g.generic, ":", color="black", label="generic rank ⌈2^N/(N+1)⌉")
        ax3.set_yscale("log", base=2)
        ax3.set_xlabel("N")
        ax3.set_ylabel("CP terms")
        ax3.set_title("terms a shallow net needs (r = 2)", fontsize=10)
        ax3.legend(fontsize=7)
    figs = [Figure(name="depth_efficiency", title="Depth efficiency of ConvACs",
                   caption="Left: separation ranks of one-hot grid tensors against N (mean over "
                           "seeds). Middle: odd-even rank against width at N = 8. Right: the "
                           "number of CP terms a shallow net needs to realise a random deep "
                           "net: lower bound from matricization ranks, upper bound from ALS "
                           f"at relative error {run.config['als_tol']:g}.", image=fig)]
    spec = run.measurements()
    spec = spec[spec.lens == "spectrum"]
    if len(spec):
        fig2 = MplFigure(figsize=(5.5, 3.8), layout="constrained")
        ax = fig2.add_subplot()
        for layer, p in spec.groupby("layer", sort=False):
            s = p.value.to_numpy()
            ax.semilogy(np.arange(1, len(s) + 1), np.maximum(s, 1e-300), ".-", ms=2, lw=1,
                        label=layer.replace("|", ", "))
        ax.set_xscale("log", base=2)
        ax.set_ylim(1e-18, 2)
        ax.set_xlabel("index")
        ax.set_ylabel("singular value / largest")
        ax.legend(fontsize=7)
        n = int(spec.step.iloc[0])
        figs.append(Figure(name="spectra", title=f"Matricization spectra, N = {n}",
                           caption="Singular values of the odd-even and left-right "
                                   "matricizations (r = 2): the rank is where they drop to "
                                   "rounding level.", image=fig2))
    return figs
