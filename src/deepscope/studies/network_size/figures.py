"""Figures and summary table of the ``network-size`` study."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["PLOTTED", "figures", "measure_table", "summary_table"]

#: Measures drawn in the figure (natural-log scale, relative to the narrowest net).
PLOTTED = ("params", "param_norm", "log_prod_of_fro_over_margin", "log_prod_of_spec_over_margin",
           "log_spec_orig_over_margin", "log_path_norm_over_margin", "frobenius_distance",
           "pacbayes_flatness", "pacbayes_mag_flatness")


def _wide(df: pd.DataFrame, lens: str) -> pd.DataFrame:
    part = df[df.lens == lens]
    out = part.pivot_table(index=["layer", "seed"], columns="metric", values="value")
    out = out.reset_index()
    out["width"] = out.layer.astype(int)
    return out.sort_values(["width", "seed"])


def _as_log(name: str, v: pd.Series) -> pd.Series:
    return v if name.startswith("log_") else np.log(v.astype(float))


def summary_table(run) -> pd.DataFrame:
    """Per width (mean over seeds): train and test error, epochs, nets that fitted the data."""
    df = run.measurements()
    tr = _wide(df, "training")
    g = tr.groupby("width")
    return pd.DataFrame({"train error": g.train_error.mean(), "test error": g.test_error.mean(),
                         "test error min": g.test_error.min(),
                         "test error max": g.test_error.max(),
                         "epochs": g.epochs.mean(),
                         "fitted": g.reached.sum().astype(int).astype(str) + "/"
                         + g.reached.size().astype(str)}).reset_index()


def measure_table(run) -> pd.DataFrame:
    """Per measure: Kendall tau with width and with test error over the nets that reached zero
    training error, and its change (log scale) from the narrowest to the widest fitted width."""
    from scipy.stats import kendalltau

    df = run.measurements()
    tr = _wide(df, "training")
    me = _wide(df, "measure")
    both = me.merge(tr[["layer", "seed", "test_error", "reached"]], on=["layer", "seed"])
    ok = both[both.reached > 0.5]
    rows = []
    for name in [c for c in me.columns if c not in ("layer", "seed", "width")]:
        v = ok[name].astype(float)
        good = np.isfinite(v)
        if good.sum() < 3:
            continue
        tau_w = kendalltau(ok.width[good], v[good]).statistic
        tau_e = kendalltau(ok.test_error[good], v[good]).statistic
        means = ok[good].groupby("width")[name].mean()
        change = float(_as_log(name, means).iloc[-1] - _as_log(name, means).iloc[0])
        rows.append({"measure": name, "tau with width": tau_w, "tau with test error": tau_e,
                     "log change narrow->wide": change})
    cols = ["measure", "tau with width", "tau with test error", "log change narrow->wide"]
    return pd.DataFrame(rows, columns=cols).sort_values("tau with test error", ascending=False)


def figures(run) -> list:
    """Errors against width, and every measure against width (log scale, relative)."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Figure

    df = run.measurements()
    tr = _wide(df, "training")
    me = _wide(df, "measure").merge(tr[["layer", "seed", "reached"]], on=["layer", "seed"])
    fig = MplFigure(figsize=(12, 4.3), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    g = tr.groupby("width")
    for col, label, c in (("train_error", "train error", "C0"), ("test_error", "test error", "C3")):
        m = g[col].mean()
        ax1.plot(m.index, m.values, "o-", color=c, label=label)
        ax1.fill_between(m.index, g[col].min(), g[col].max(), color=c, alpha=0.2)
    miss = tr[tr.reached < 0.5]
    if len(miss):
        ax1.plot(miss.width, miss.train_error, "x", color="black",
                 label="did not reach zero train error")
    ax1.set(xscale="log", xlabel="hidden width", ylabel="error", title="digits, 2-layer ReLU MLP")
    ax1.set_xscale("log", base=2)
    ax1.legend(fontsize=8)
    ok = me[me.reached > 0.5]
    for i, name in enumerate([p for p in PLOTTED if p in ok.columns]):
        means = ok.groupby("width")[name].mean()
        lv = _as_log(name, means)
        if not np.isfinite(lv).all() or len(lv) == 0:
            continue
        ax2.plot(lv.index, lv - lv.iloc[0], marker="o", ms=3, color=f"C{i}", label=name,
                 ls="--" if name == "params" else "-")
    ax2.set_xscale("log", base=2)
    ax2.set(xlabel="hidden width", ylabel="log(measure) − log(measure at narrowest fitted)",
            title="measures against width")
    if ax2.lines:
        ax2.legend(fontsize=6.5)
    table = summary_table(run)
    t = table.iloc[[0, -1]] if len(table) > 1 else table
    text = "; ".join(f"width {int(r.width)}: test error {r['test error']:.3f}"
                     for _, r in t.iterrows())
    return [Figure(name="network_size", title="Network size and generalization (Neyshabur et al.)",
                   caption="Two-layer ReLU nets of growing width trained to zero training error "
                           f"on digits ({text}); right: the lens's measures on a log scale, "
                           "relative to the narrowest net that fitted the data (mean over "
                           "seeds).",
                   image=fig)]
