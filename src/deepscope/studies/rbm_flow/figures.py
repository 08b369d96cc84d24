"""Figures of ``rbm-flow``: temperature flows, singular values, the thermometer's calibration."""

from __future__ import annotations

import pandas as pd

__all__ = ["make_figures"]


def _flow_axes(ax, fl: pd.DataFrame, metric: str, ylabel: str, tc: float) -> None:
    layers = sorted(set(fl.layer), key=lambda s: (int(s.split(":")[0][1:]), s))
    colors = {}
    for layer in layers:
        part = fl[(fl.metric == metric) & (fl.layer == layer)]
        g = part.groupby("step")["value"]
        mean, lo, hi = g.mean(), g.min(), g.max()
        hidden = layer.split(":")[0]
        color = colors.setdefault(hidden, f"C{len(colors)}")
        style = "-" if layer.endswith(layers[0].split(":")[1]) else "--"
        x = mean.index.to_numpy() + 1
        ax.plot(x, mean.to_numpy(), style, color=color, label=layer.replace(":", ", "))
        ax.fill_between(x, lo.to_numpy(), hi.to_numpy(), color=color, alpha=0.15)
    ax.axhline(tc, color="black", lw=1, ls=":", label="T_c (Onsager)")
    ax.axhspan(1.9, 2.7, color="gray", alpha=0.1)
    ax.set_xscale("log")
    ax.set_xlabel("iteration + 1 (v → h → v)")
    ax.set_ylabel(ylabel)


def make_figures(run, table: pd.DataFrame) -> list:
    """The report's figures."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.data.ising import ONSAGER_TC
    from deepscope.report import Figure

    df = run.measurements()
    fl = df[df.lens == "flow"]
    out = []
    if not fl.empty:
        fig = MplFigure(figsize=(11, 4.2), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        _flow_axes(ax1, fl, "measured_T", "thermometer temperature", ONSAGER_TC)
        _flow_axes(ax2, fl, "T_from_m", "temperature read from |m|", ONSAGER_TC)
        ax1.legend(fontsize=7)
        text = "; ".join(f"h={r['hidden']} from T={r['start T']:g}: "
                         f"{r['final T (thermometer)']:.2f} ± {r['spread over seeds']:.2f}"
                         for _, r in table.iterrows())
        out.append(Figure(
            name="rbm_flow", title="Temperature along the RBM flow",
            caption="Mean over seeds (band: min to max over seeds) of the temperature of "
                    "configurations iterated v → h → v by each RBM, read by the thermometer "
                    "(left) and from |m| through the data's <|m|>(T) (right). Dotted: T_c; "
                    f"grey band: [1.9, 2.7]. Final thermometer readings: {text}.",
            image=fig))
    sv = df[df.lens == "svd"]
    if not sv.empty:
        fig = MplFigure(figsize=(5.5, 4), layout="constrained")
        ax = fig.add_subplot()
        for i, layer in enumerate(sorted(set(sv.layer), key=lambda s: int(s[1:]))):
            m = sv[sv.layer == layer].groupby("step")["value"].mean()
            ax.plot(m.index + 1, m.to_numpy(), "o-", ms=3, color=f"C{i}", label=layer)
        ax.set_yscale("log")
        ax.set_xlabel("index")
        ax.set_ylabel("singular value of W")
        ax.legend(fontsize=8)
        out.append(Figure(name="singular_values", title="Singular values of the RBM weights",
                          caption="Sorted singular values of W (mean over seeds).", image=fig))
    th = df[df.lens == "thermometer"]
    data = df[(df.lens == "data") & (df.metric == "temperature")]
    if not th.empty and not data.empty:
        fig = MplFigure(figsize=(5.5, 4), layout="constrained")
        ax = fig.add_subplot()
        temps = data.groupby("step")["value"].mean()
        read = th.groupby("step")["value"].mean()
        ax.plot(temps.to_numpy(), read.to_numpy(), "o-", ms=3, label="thermometer (held out)")
        ax.plot(temps.to_numpy(), temps.to_numpy(), color="gray", lw=1, label="identity")
        ax.axvline(ONSAGER_TC, color="black", ls=":", lw=1)
        ax.set_xlabel("true temperature")
        ax.set_ylabel("measured temperature")
        ax.legend(fontsize=8)
        out.append(Figure(name="thermometer", title="The thermometer on held-out data",
                          caption="Mean reading of the supervised thermometer on held-out "
                                  "configurations of each temperature. Ordered configurations "
                                  "(T < ~1.5) are indistinguishable, so they read alike.",
                          image=fig))
    return out
