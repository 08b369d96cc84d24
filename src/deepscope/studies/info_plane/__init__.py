"""Study ``info-plane``: the information plane of Shwartz-Ziv & Tishby and its critique.

Shwartz-Ziv & Tishby (2017, arXiv 1703.00810) train a 12-10-7-5-4-3-2 tanh network on
their 12-bit task and track, for every layer T, I(X;T) and I(T;Y) by binning the
activations: layers first gain information about the labels (fitting), then lose
information about the input (compression). Saxe et al. (2018, ICLR, "On the information
bottleneck theory of deep learning") show that the compression comes from the saturating
tanh: with ReLU, measured with a fixed bin width (0.07) or KDE, there is none.

Defaults follow the paper protocol as reimplemented by Saxe et al.: Adam, lr 4e-4, batch
256, 80% of the 4096 inputs for training (shuffled by seed), softmax output, 30 bins on
[-1, 1], MI on all 4096 inputs at log-spaced epochs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from deepscope.errors import check_float, check_int, param_error
from deepscope.nets.mlp import check_widths
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register

__all__ = ["InfoPlaneConfig", "capture_schedule"]

ESTIMATORS = ("binning", "binning-width", "binning-adaptive", "kde", "ksg")


def capture_schedule(epochs: int, points: int) -> np.ndarray:
    """The paper's capture epochs: ``unique(logspace(0, log2 epochs, points, base 2)) - 1``.

    Epoch ``e`` means the state after ``e`` completed epochs (0 is the initialisation).
    """
    grid = np.logspace(0.0, np.log2(epochs), points, base=2.0).astype(np.int64)
    return np.unique(grid) - 1


@dataclass(frozen=True)
class InfoPlaneConfig:
    """Configuration of the ``info-plane`` study (defaults: the paper protocol)."""

    widths: tuple[int, ...] = option((12, 10, 7, 5, 4, 3, 2), "layer widths, input to output")
    activation: str = option(
        "tanh", "hidden-layer activation",
        choices=("tanh", "relu", "sigmoid", "leaky_relu", "linear"),
    )
    optimizer: str = option("adam", "optimizer", choices=("adam", "sgd"))
    lr: float = option(4e-4, "learning rate")
    batch_size: int = option(256, "minibatch size")
    epochs: int = option(8000, "training epochs")
    train_fraction: float = option(0.8, "fraction of the 4096 inputs used for training")
    init: str = option(
        "truncated_normal", "weight initialisation", choices=("truncated_normal", "pytorch")
    )
    seeds: int = option(1, "number of seeds, trained at once")
    first_seed: int = option(0, "first seed; seeds are first_seed .. first_seed+seeds-1")
    estimator: str = option("binning", "mutual-information estimator", choices=ESTIMATORS)
    bins: int = option(30, "number of bins (binning, binning-adaptive)")
    bin_low: float = option(-1.0, "lower end of the binning range (binning)")
    bin_high: float = option(1.0, "upper end of the binning range (binning)")
    bin_width: float = option(0.07, "bin width (binning-width)")
    noise_variance: float = option(1e-3, "added Gaussian noise variance (kde)")
    k: int = option(3, "neighbours (ksg)")
    capture_points: int = option(400, "log-spaced capture points before de-duplication")
    checkpoint_every: int = option(500, "epochs between flushes and checkpoints")

    def __post_init__(self) -> None:
        name = "InfoPlaneConfig"
        validate_choices(self)
        check_widths(self.widths, name)
        if len(self.widths) < 3:
            raise param_error("widths", name, "at least 3 widths, input to output (e.g. 12-10-2)",
                              self.widths)
        if self.widths[0] != 12:
            raise param_error("widths", name, "a list starting with 12 (the 12-bit input)",
                              self.widths)
        if self.widths[-1] < 2:
            raise param_error("widths", name, "a list ending with >= 2 output classes",
                              self.widths)
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_int(self.batch_size, "batch_size", name, low=1, high=4096)
        check_int(self.epochs, "epochs", name, low=1)
        check_float(self.train_fraction, "train_fraction", name, low=0.0, high=1.0,
                    closed="neither")
        check_int(self.seeds, "seeds", name, low=1, high=10000)
        check_int(self.first_seed, "first_seed", name, low=0)
        check_int(self.bins, "bins", name, low=2, high=100000)
        check_float(self.bin_high, "bin_high", name, low=self.bin_low, closed="neither")
        check_float(self.bin_width, "bin_width", name, low=0.0, closed="neither")
        check_float(self.noise_variance, "noise_variance", name, low=0.0, closed="neither")
        check_int(self.k, "k", name, low=1, high=1000)
        check_int(self.capture_points, "capture_points", name, low=1, high=100000)
        check_int(self.checkpoint_every, "checkpoint_every", name, low=1)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def capture_epochs(self) -> np.ndarray:
        """Epochs at which every layer is measured."""
        return capture_schedule(self.epochs, self.capture_points)

    def estimator_params(self) -> dict:
        """Keyword arguments of the information lens for this estimator."""
        if self.estimator == "binning":
            return {"bins": self.bins, "range": (self.bin_low, self.bin_high)}
        if self.estimator == "binning-adaptive":
            return {"bins": self.bins}
        if self.estimator == "binning-width":
            return {"bin_width": self.bin_width}
        if self.estimator == "kde":
            return {"noise_variance": self.noise_variance}
        return {"k": self.k}


class _Epochs(torch.nn.Module):
    """:func:`deepscope.train.fit`'s view of the stacked trainer: one step is one epoch of
    every seed (the trainer's own batch streams, optimizer and hand-written backward)."""

    def __init__(self, trainer) -> None:
        super().__init__()
        self.trainer = trainer

    @staticmethod
    def step(engine: "_Epochs", batch, optimizer) -> dict:
        engine.trainer.run(engine.trainer.epoch + 1)
        return {}


def run(config: InfoPlaneConfig, ctx: StudyContext) -> None:
    """Train all seeds at once and measure every layer at every capture epoch."""
    from deepscope.data import tishby12
    from deepscope.lenses.information import information_plane_stacked
    from deepscope.train import StackedMLPTrainer, fit

    X, y = tishby12(device=ctx.device)
    trainer = StackedMLPTrainer(
        X, y, widths=config.widths, activation=config.activation, seeds=config.seed_list(),
        optimizer=config.optimizer, lr=config.lr, batch_size=config.batch_size,
        train_fraction=config.train_fraction, init=config.init,
    )
    if ctx.resume is not None:
        trainer.load_state_dict(ctx.resume["trainer"])
    seeds = np.asarray(config.seed_list(), dtype=np.int64)
    params = config.estimator_params()
    inputs = {"inputs": X} if config.estimator == "ksg" else {}
    names = trainer.layer_names
    schedule = [int(e) for e in config.capture_epochs()]
    timings = dict(ctx.resume.get("timings", {})) if ctx.resume else {}
    timings.setdefault("measure_s", 0.0)
    timings.setdefault("train_s", 0.0)
    rec = ctx.run

    def on_capture(snap) -> None:
        t0 = time.perf_counter()
        for name, act in zip(names, snap.activations):
            res = information_plane_stacked(act, y, method=config.estimator, layer=name,
                                             **params, **inputs)
            for metric, values in res.measures().items():
                rec.record(step=snap.epoch, lens="information", layer=name, metric=metric,
                           value=values.detach().cpu().numpy(), seed=seeds)
        for metric in ("train_loss", "train_acc", "test_loss", "test_acc"):
            rec.record(step=snap.epoch, lens="training", layer="", metric=metric,
                       value=getattr(snap, metric).detach().cpu().numpy(), seed=seeds)
        timings["measure_s"] += time.perf_counter() - t0

    label = f"info-plane: {len(seeds)} seed(s), {config.activation}, {config.estimator}"
    captures = set(schedule)
    checkpoints = set(range(config.checkpoint_every, config.epochs, config.checkpoint_every))
    checkpoints.add(config.epochs)
    clock = {"t0": time.perf_counter(), "train_s": timings["train_s"]}

    def on_step(epoch: int, engine: _Epochs, logs: dict) -> None:
        if epoch in captures:  # the trainer never captures an epoch twice (resume too)
            trainer.run(epoch, capture_epochs=[epoch], on_capture=on_capture)
        if epoch in checkpoints:
            timings["train_s"] = clock["train_s"] + time.perf_counter() - clock["t0"]
            ctx.checkpoint({"trainer": trainer.state_dict(), "timings": dict(timings)})

    if trainer.epoch < config.epochs:
        fit(_Epochs(trainer), None, lambda step, generator: None, optimizer=None,
            step_fn=_Epochs.step, steps=config.epochs, schedule=captures | checkpoints,
            on_step=on_step, resume={"step": trainer.epoch},
            progress=lambda description, total: ctx.task(label, total))
    timings["train_s"] -= timings["measure_s"]
    rec.update_manifest(timings={k: round(v, 3) for k, v in timings.items()})


# ----------------------------------------------------------------------------- results


def info_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds of I(X;T), I(T;Y) per (step, layer) of a run's measurements ``df``."""
    info = df[df["lens"] == "information"]
    order = list(dict.fromkeys(info["layer"]))
    wide = info.pivot_table(index=["step", "layer"], columns="metric", values="value",
                            aggfunc="mean").reset_index()
    wide["layer"] = pd.Categorical(wide["layer"], categories=order, ordered=True)
    wide = wide.sort_values(["layer", "step"]).reset_index(drop=True)
    wide.columns.name = None
    return wide


def training_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of train/test loss and accuracy per step of ``df``."""
    tr = df[df["lens"] == "training"]
    return (tr.groupby(["step", "metric"])["value"].agg(["mean", "std"]).reset_index())


def figures(run) -> list:
    """The information plane (interactive and static), MI against epoch, training curves."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.plots import plot_information_plane, plot_mi_over_epochs
    from deepscope.report import Chart, Figure, Series

    cfg = run.config
    measurements = run.measurements()
    frame = info_frame(measurements)
    n_seeds = len(run.seeds)
    how = f"mean over {n_seeds} seeds" if n_seeds > 1 else "1 seed"
    est = cfg.get("estimator", "binning")
    series = []
    for layer, part in frame.groupby("layer", observed=True, sort=False):
        hover = [f"{layer} · epoch {s} · I(X;T)={a:.3f} · I(T;Y)={b:.3f}"
                 for s, a, b in zip(part["step"], part["i_xt"], part["i_ty"])]
        series.append(Series(name=str(layer), x=part["i_xt"].tolist(), y=part["i_ty"].tolist(),
                             color=part["step"].tolist(), hover=hover))
    chart = Chart(x_label="I(X;T) (bits)", y_label="I(T;Y) (bits)", series=series,
                  color_label="epoch", log_color=True)
    fig_plane, _ = plot_information_plane(frame)
    fig_x, ax_x = plot_mi_over_epochs(frame, metric="i_xt")
    fig_y, ax_y = plot_mi_over_epochs(frame, metric="i_ty")
    tr = training_frame(measurements)
    fig_tr = MplFigure(figsize=(10, 3.6), layout="constrained")
    axes = fig_tr.subplots(1, 2)
    for ax, kind in zip(axes, ("loss", "acc")):
        for split, style in (("train", "-"), ("test", "--")):
            part = tr[tr["metric"] == f"{split}_{kind}"]
            steps = part["step"].to_numpy() + 1
            ax.plot(steps, part["mean"], style, label=split)
            if n_seeds > 1:
                sd = part["std"].fillna(0).to_numpy()
                ax.fill_between(steps, part["mean"] - sd, part["mean"] + sd, alpha=0.2)
        ax.set_xscale("log")
        ax.set_xlabel("epoch + 1")
        ax.set_ylabel("cross-entropy (nats)" if kind == "loss" else "accuracy")
        ax.legend()
    final = tr[tr["step"] == tr["step"].max()].set_index("metric")["mean"]
    acc_text = (f"Final train accuracy {final.get('train_acc', float('nan')):.3f}, "
                f"test accuracy {final.get('test_acc', float('nan')):.3f} ({how}).")
    title = f"{cfg.get('activation', '?')} network, {est} estimator, {how}"
    return [
        Figure(name="information_plane", title=f"Information plane — {title}",
               caption="Each curve is one layer; points are capture epochs, coloured by epoch "
                       "(log scale). Hover a point for its layer, epoch and values.",
               chart=chart),
        Figure(name="information_plane_static", title="Information plane (static)",
               caption="The same data as a static picture.", image=fig_plane),
        Figure(name="i_xt_vs_epoch", title="I(X;T) against epoch",
               caption="Compression shows as a late decrease of I(X;T).", image=fig_x),
        Figure(name="i_ty_vs_epoch", title="I(T;Y) against epoch",
               caption="Fitting shows as an early increase of I(T;Y).", image=fig_y),
        Figure(name="training", title="Training curves", caption=acc_text, image=fig_tr),
    ]


def summary_table(run) -> pd.DataFrame:
    """Per layer: I(X;T) at the first capture, its peak, its final value, and I(T;Y)."""
    frame = info_frame(run.measurements())
    rows = []
    for layer, part in frame.groupby("layer", observed=True, sort=False):
        part = part.sort_values("step")
        peak = part.loc[part["i_xt"].idxmax()]
        last = part.iloc[-1]
        rows.append({
            "layer": str(layer),
            "I(X;T) first": round(float(part["i_xt"].iloc[0]), 4),
            "I(X;T) peak": round(float(peak["i_xt"]), 4),
            "peak epoch": int(peak["step"]),
            "I(X;T) final": round(float(last["i_xt"]), 4),
            "compression (bits)": round(float(peak["i_xt"] - last["i_xt"]), 4),
            "I(T;Y) first": round(float(part["i_ty"].iloc[0]), 4),
            "I(T;Y) final": round(float(last["i_ty"]), 4),
            "final epoch": int(last["step"]),
        })
    return pd.DataFrame(rows)


register(Study(
    name="info-plane",
    summary="Information plane of a 12-10-7-5-4-3-2 net on the 12-bit task "
            "(Shwartz-Ziv & Tishby 2017; Saxe et al. 2018)",
    paper="Shwartz-Ziv & Tishby 2017, arXiv 1703.00810; Saxe et al. 2018, ICLR",
    config_cls=InfoPlaneConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
    stacks_seeds=True,
))
