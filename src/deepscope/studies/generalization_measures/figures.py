"""Kendall tau, granulated Psi, the ranked table and the scatters of the
``generalization-measures`` study."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from deepscope.studies.generalization_measures.run import HPARAMS

__all__ = ["figures", "granulated", "nets", "summary_table"]


def nets(run) -> pd.DataFrame:
    """One row per net: hyperparameters, seed, training results and every measure."""
    df = run.measurements()
    wide = df[df.lens.isin(["training", "measure"])].pivot_table(
        index=["layer", "seed"], columns="metric", values="value").reset_index()
    for h in HPARAMS:
        wide[h] = wide.layer.map(lambda s, h=h: float(dict(p.split("=") for p in
                                                            s.split(","))[h]))
    return wide


def _measures(table: pd.DataFrame) -> list[str]:
    skip = {"layer", "seed", "train_acc", "test_acc", "train_loss", "test_loss", "gap",
            "epochs", "steps", "reached", *HPARAMS}
    return [c for c in table.columns if c not in skip]


def _tau(a: pd.Series, b: pd.Series) -> float:
    from scipy.stats import kendalltau

    good = np.isfinite(a.astype(float)) & np.isfinite(b.astype(float))
    if good.sum() < 2 or a[good].nunique() < 2 or b[good].nunique() < 2:
        return float("nan")
    return float(kendalltau(a[good], b[good]).statistic)


def granulated(table: pd.DataFrame, measure: str) -> dict[str, float]:
    """``psi_h`` for every hyperparameter ``h``: the mean Kendall tau between the measure and
    the gap within the cells where only ``h`` varies (the others and the seed fixed)."""
    out = {}
    for h in HPARAMS:
        others = [o for o in HPARAMS if o != h] + ["seed"]
        taus = [_tau(cell[measure], cell.gap) for _, cell in table.groupby(others)
                if len(cell) >= 2]
        taus = [t for t in taus if np.isfinite(t)]
        out[h] = float(np.mean(taus)) if taus else float("nan")
    return out


def summary_table(run) -> pd.DataFrame:
    """Every measure ranked by Psi: tau over all fitted nets, psi per hyperparameter, Psi."""
    table = nets(run)
    fitted = table[table.reached > 0.5]
    rows = []
    for m in _measures(fitted):
        psi = granulated(fitted, m)
        vals = [v for v in psi.values() if np.isfinite(v)]
        rows.append({"measure": m, "tau": _tau(fitted[m], fitted.gap),
                     **{f"psi {h}": psi[h] for h in HPARAMS},
                     "Psi": float(np.mean(vals)) if vals else float("nan")})
    out = pd.DataFrame(rows)
    if len(out):
        out = out.sort_values("Psi", ascending=False, na_position="last").reset_index(drop=True)
    return out


def figures(run) -> list:
    """Scatter of every measure against the gap (colour: learning rate), titled with tau."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Figure

    table = nets(run)
    fitted = table[table.reached > 0.5]
    ranked = summary_table(run)
    names = list(ranked.measure)
    cols = 5
    rows = max(1, -(-len(names) // cols))
    fig = MplFigure(figsize=(3.0 * cols, 2.5 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    lrs = sorted(set(fitted.lr))
    for ax, (_, r) in itertools.zip_longest(axes, ranked.iterrows(), fillvalue=(None, None)):
        if r is None:
            ax.set_axis_off()
            continue
        for i, lr in enumerate(lrs):
            part = fitted[fitted.lr == lr]
            ax.scatter(part[r.measure], part.gap, s=9, color=f"C{i}", label=f"lr {lr:g}")
        ax.set_title(f"{r.measure}\nτ={r.tau:.2f}  Ψ={r.Psi:.2f}", fontsize=7.5)
        if r.measure in ("params",) or r.measure.startswith("pacbayes") or \
                r.measure in ("param_norm", "frobenius_distance", "dist_spec_init", "grad_noise",
                              "inverse_margin"):
            if (fitted[r.measure] > 0).all():
                ax.set_xscale("log")
        ax.tick_params(which="both", labelsize=6)
    if len(names):
        axes[0].legend(fontsize=6)
        axes[0].set_ylabel("generalization gap", fontsize=7)
    n_all, n_fit = len(table), len(fitted)
    top = ", ".join(f"{r.measure} ({r.Psi:.2f})" for _, r in ranked.head(3).iterrows())
    return [Figure(name="generalization_measures",
                   title="Generalization measures against the gap (Jiang et al.)",
                   caption=f"{n_fit} of {n_all} nets reached the training cross-entropy "
                           f"target and enter the correlations. Highest Ψ: {top}.",
                   image=fig)]
