"""Figures and summary table of the ``weight-spectra`` study (private)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _saved_spectra(run, job: str):
    """Re-analyse the final weights of a trajectory job saved as an artifact (or None)."""
    import torch

    from deepscope.lenses.spectra import analyze_weights
    from deepscope.studies.weight_spectra import training as _t

    path = run.artifact_path(f"{job}.pt")
    if not path.exists():
        return None
    cfg = run.config
    arch = "cnn" if job == "cnn" else "mlp"
    width = cfg.get("cnn_hidden", 256) if arch == "cnn" else cfg.get("width", 512)
    net = _t.build(arch, int(width), tuple(cfg.get("cnn_channels", (16, 32))), 0)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return analyze_weights(net, randomize=True, seed=int(run.seeds[0]) if run.seeds else 0)


def _esd_grid(res, title: str):
    from matplotlib.figure import Figure as MplFigure

    from deepscope.plots import plot_esd

    n = len(res.layers)
    fig = MplFigure(figsize=(4.2 * n, 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    for i, ax in enumerate(axes):
        plot_esd(res, ax, layer=i, bins=40)
    fig.suptitle(title)
    return fig


#: Fewer eigenvalues than this leave no tail to fit: such layers' alpha is not charted.
_MIN_EVALS = 20


def _alpha_chart(frame: pd.DataFrame, job: str, left_out: list[str]):
    from deepscope.report import Series

    series = []
    for layer, part in frame.groupby("layer", observed=True, sort=False):
        if "n_evals" in part and part["n_evals"].max() < _MIN_EVALS:
            left_out.append(f"{job}:{layer}")
            continue
        hover = [f"{job} {layer} · epoch {s} · α={a:.2f}" for s, a in
                 zip(part["step"], part["alpha"])]
        series.append(Series(name=f"{job}:{layer}", x=part["step"].tolist(),
                             y=part["alpha"].tolist(), hover=hover))
    return series


def figures(run) -> list:
    """ESD grids with fits, alpha against epoch, batch/lr, random labels, the zoo scatter."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.plots import plot_alpha_over_epochs
    from deepscope.report import Chart, Figure, Series
    from deepscope.studies.weight_spectra import final_training, spectra_frame, \
        zoo_correlation

    df = run.measurements()
    out = []
    for job in ("mlp", "cnn", "random-labels"):
        res = _saved_spectra(run, job)
        if res is not None:
            out.append(Figure(
                name=f"esd_{job}", title=f"ESD of every layer — {job}, end of training",
                caption="Log-log histograms of the eigenvalues of WᵀW (blue), the fitted "
                        "power-law tail (red, from xmin, dotted), the Marchenko-Pastur fit of "
                        "the bulk (black, edge dotted) and the ESD of the element-wise "
                        "permuted matrix (purple).", image=_esd_grid(res, job)))
    series, left_out = [], []
    fig = MplFigure(figsize=(11, 3.8), layout="constrained")
    axes = fig.subplots(1, 3, sharey=True)
    for ax, job in zip(axes, ("mlp", "cnn", "random-labels")):
        frame = spectra_frame(df, job)
        if len(frame):
            plot_alpha_over_epochs(frame, ax=ax)
            ax.set_title(job)
            series += _alpha_chart(frame, job, left_out)
    if series:
        skipped = (f" Layers with fewer than {_MIN_EVALS} eigenvalues have no tail to fit and "
                   f"are left out ({', '.join(left_out)}; their α is in the summary table "
                   "and the static panels below)." if left_out else "")
        out.append(Figure(name="alpha_vs_epoch", title="Power-law exponent α against epoch",
                          caption="α of every layer with a tail (epoch 0 = initialisation). "
                                  "Random weights fit large α (no tail); a heavy tail shows "
                                  "as α falling toward 2-4. Hover a point for its value."
                                  + skipped,
                          chart=Chart(x_label="epoch", y_label="alpha", series=series,
                                      log_color=False)))
    if series or left_out:
        out.append(Figure(name="alpha_vs_epoch_static", title="α against epoch (static)",
                          caption="Every layer, per job, including those without a tail.",
                          image=fig))
    fin = final_training(df)
    batch = fin[fin["job"].str.startswith("batch")]
    if len(batch):
        fig_b, ax_b = _batch_figure(df, batch)
        out.append(Figure(name="batch_lr", title="Batch size and learning rate",
                          caption="Final α of each hidden layer for every batch size and "
                                  "learning rate (same number of epochs). Martin & Mahoney "
                                  "report heavier tails (smaller α) for smaller batches.",
                          image=fig_b))
    rho, p, zoo = zoo_correlation(df)
    rho_a, p_a, _ = zoo_correlation(df, "alpha_mean")
    if len(zoo):
        hover = [f"{j} · α̂={a:.3f} · test acc={t:.3f}" for j, a, t in
                 zip(zoo["job"], zoo["alpha_hat_mean"], zoo["test_acc"])]
        chart = Chart(x_label="mean alpha-hat (layers with >= 20 eigenvalues)",
                      y_label="test accuracy",
                      series=[Series(name="zoo", x=zoo["alpha_hat_mean"].tolist(),
                                     y=zoo["test_acc"].tolist(), hover=hover, line=False)],
                      log_color=False)
        out.append(Figure(name="zoo", title="Zoo: mean α̂ against test accuracy",
                          caption=f"Each point is one trained MLP (drawn width, lr, batch, "
                                  f"epochs). Spearman rank correlation ρ = {rho:.3f} "
                                  f"(p = {p:.3g}, n = {len(zoo)}); for the mean α alone "
                                  f"ρ = {rho_a:.3f} (p = {p_a:.3g}). Martin & Mahoney report "
                                  f"lower α̂ for better models of one architecture family "
                                  f"(a negative correlation).", chart=chart))
    return out


def _batch_figure(df: pd.DataFrame, batch: pd.DataFrame):
    from matplotlib.figure import Figure as MplFigure

    from deepscope.studies.weight_spectra import spectra_frame

    rows = []
    for job in batch["job"]:
        frame = spectra_frame(df, job)
        last = frame[frame["step"] == frame["step"].max()]
        b, lr = job[len("batch"):].split("-lr")
        for _, r in last.iterrows():
            if r["n_evals"] >= 20:
                rows.append({"batch": int(b), "lr": float(lr), "layer": str(r["layer"]),
                             "alpha": r["alpha"]})
    tab = pd.DataFrame(rows)
    fig = MplFigure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for (layer, lr), part in tab.groupby(["layer", "lr"]):
        part = part.sort_values("batch")
        ax.plot(part["batch"], part["alpha"], marker="o", label=f"{layer}, lr={lr:g}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("final α")
    ax.legend(fontsize=8)
    return fig, ax


def summary_table(run) -> pd.DataFrame:
    """Per job and layer: α at the first and last measurement, spikes, traps, accuracy."""
    from deepscope.studies.weight_spectra import final_training, spectra_frame

    df = run.measurements()
    fin = final_training(df).set_index("job")
    jobs = list(dict.fromkeys(j[len("spectra:"):] for j in df["lens"]
                              if j.startswith("spectra:")))
    rows = []
    for job in jobs:
        frame = spectra_frame(df, job)
        for layer, part in frame.groupby("layer", observed=True, sort=False):
            part = part.sort_values("step")
            first, last = part.iloc[0], part.iloc[-1]
            rows.append({
                "job": job, "layer": str(layer), "eigenvalues": int(last["n_evals"]),
                "alpha first": round(float(first["alpha"]), 3),
                "alpha final": round(float(last["alpha"]), 3),
                "alpha_hat final": round(float(last["alpha_hat"]), 3),
                "spikes final": int(last["n_spikes"]),
                "traps final": int(last["n_traps"]) if np.isfinite(last["n_traps"]) else -1,
                "test acc": round(float(fin.loc[job, "test_acc"]), 4) if job in fin.index
                else float("nan"),
                "final epoch": int(last["step"]),
            })
    return pd.DataFrame(rows)
