"""Study ``weight-spectra``: heavy-tailed self-regularisation on small digits networks.

Martin & Mahoney ("Implicit self-regularization in deep neural networks", JMLR 2021,
arXiv 1810.01075; "Predicting trends in the quality of state-of-the-art neural networks
without access to training or testing data", Nature Communications 2021, arXiv
2002.06716) read the eigenvalue spectrum of each weight matrix: at initialisation it is
Marchenko-Pastur (a large fitted power-law exponent alpha); training grows a heavy tail and
alpha falls toward 2-4; smaller batches give heavier tails; across trained models the
average ``alpha_hat = alpha log10 lambda_max`` tracks test accuracy.

This study re-runs those experiments at laptop scale on scikit-learn's 8x8 digits:

* ``mlp``, ``cnn``: a 64-w-w-10 ReLU MLP and a SmallCNN trained with SGD; every layer's
  ESD, power-law fit, MP fit and randomised ESD every ``measure_every`` epochs.
* ``batch<b>-lr<lr>``: the MLP trained with every batch size x learning rate.
* ``random-labels``: the MLP trained on shuffled labels (``digits(random_labels=1.0)``).
* ``zoo<k>``: MLPs with drawn width / lr / batch / epochs; mean alpha-hat (layers with
  at least 20 eigenvalues) against test accuracy, with the Spearman rank correlation.

Measurements: lens ``spectra:<job>`` (layer = module name, metrics of
:func:`deepscope.lenses.spectra.analyze_weights`), lens ``training:<job>`` (train/test
accuracy, mean alpha-hat), step = epoch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepscope.errors import check_float, check_int, param_error
from deepscope.studies.weight_spectra import training as _t
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register

__all__ = ["WeightSpectraConfig", "jobs"]


def _positive_tuple(values, name: str, func: str, kind: type) -> None:
    if not values:
        raise param_error(name, func, "a non-empty list", values)
    for v in values:
        if kind is int:
            check_int(v, name, func, low=1)
        else:
            check_float(v, name, func, low=0.0, closed="neither")


@dataclass(frozen=True)
class WeightSpectraConfig:
    """Configuration of the ``weight-spectra`` study (defaults run in minutes on 2 cores)."""

    width: int = option(512, "hidden width of the MLP (64-w-w-10)")
    cnn_channels: tuple[int, ...] = option((16, 32), "channels of the SmallCNN's two convs")
    cnn_hidden: int = option(256, "hidden width of the SmallCNN's fc1")
    lr: float = option(0.1, "SGD learning rate of the mlp, cnn and random-labels jobs")
    batch_size: int = option(16, "minibatch size of the mlp, cnn and random-labels jobs")
    epochs: int = option(40, "epochs of the mlp and cnn jobs")
    measure_every: int = option(4, "epochs between measurements of the mlp and cnn jobs")
    random_label_epochs: int = option(60, "epochs of the random-labels job (0: skip it)")
    batch_sizes: tuple[int, ...] = option((8, 128), "batch sizes compared (with every lr)")
    lrs: tuple[float, ...] = option((0.02, 0.1), "learning rates compared")
    zoo_size: int = option(10, "models in the zoo (0: no zoo)")
    zoo_widths: tuple[int, ...] = option((128, 256, 512), "zoo widths to draw from")
    zoo_lrs: tuple[float, ...] = option((0.005, 0.02, 0.05, 0.1), "zoo learning rates")
    zoo_batches: tuple[int, ...] = option((8, 32, 128), "zoo batch sizes")
    zoo_epochs: tuple[int, ...] = option((2, 10, 30), "zoo epochs")
    randomize: bool = option(True, "also measure the ESD of the element-wise permuted weights")
    seeds: int = option(1, "number of seeds")
    first_seed: int = option(0, "first seed; seeds are first_seed .. first_seed+seeds-1")

    def __post_init__(self) -> None:
        name = "WeightSpectraConfig"
        validate_choices(self)
        check_int(self.width, "width", name, low=2, high=8192)
        if len(self.cnn_channels) != 2:
            raise param_error("cnn_channels", name, "two ints (e.g. 16-32)", self.cnn_channels)
        _positive_tuple(self.cnn_channels, "cnn_channels", name, int)
        check_int(self.cnn_hidden, "cnn_hidden", name, low=2, high=8192)
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_int(self.batch_size, "batch_size", name, low=1, high=1348)
        check_int(self.epochs, "epochs", name, low=1)
        check_int(self.measure_every, "measure_every", name, low=1)
        check_int(self.random_label_epochs, "random_label_epochs", name, low=0)
        _positive_tuple(self.batch_sizes, "batch_sizes", name, int)
        _positive_tuple(self.lrs, "lrs", name, float)
        check_int(self.zoo_size, "zoo_size", name, low=0, high=1000)
        for field_name, kind in (("zoo_widths", int), ("zoo_lrs", float),
                                 ("zoo_batches", int), ("zoo_epochs", int)):
            _positive_tuple(getattr(self, field_name), field_name, name, kind)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


def jobs(config: WeightSpectraConfig, seed: int) -> list[dict]:
    """Every training job of one seed, in run order."""
    base = {"width": config.width, "lr": config.lr, "batch_size": config.batch_size,
            "random_labels": 0.0, "trajectory": False}
    out = [dict(base, name="mlp", arch="mlp", epochs=config.epochs, trajectory=True),
           dict(base, name="cnn", arch="cnn", width=config.cnn_hidden, epochs=config.epochs,
                trajectory=True)]
    if config.random_label_epochs:
        out.append(dict(base, name="random-labels", arch="mlp", random_labels=1.0,
                        epochs=config.random_label_epochs, trajectory=True))
    for b in config.batch_sizes:
        for lr in config.lrs:
            # equal number of epochs, so smaller batches take more (noisier) steps
            out.append(dict(base, name=f"batch{b}-lr{lr:g}", arch="mlp", batch_size=b, lr=lr,
                            epochs=config.epochs))
    members = _t.zoo_members(config.zoo_size, seed, config.zoo_widths, config.zoo_lrs,
                             config.zoo_batches, config.zoo_epochs)
    out += [dict(base, name=f"zoo{k}", arch="mlp", **m) for k, m in enumerate(members)]
    return out


def _run_job(job: dict, config: WeightSpectraConfig, seed: int, ctx: StudyContext, task
             ) -> None:
    import torch

    from deepscope.data import digits

    data = digits(seed=seed, image=job["arch"] == "cnn", random_labels=job["random_labels"],
                  device=ctx.device)
    net = _t.build(job["arch"], job["width"], tuple(config.cnn_channels), seed).to(ctx.device)
    rec, name = ctx.run, job["name"]

    def measure(epoch: int) -> None:
        last = epoch == job["epochs"]
        if not last and epoch and not (job["trajectory"] and epoch % config.measure_every == 0):
            return
        frame = _t.spectra_rows(net, randomize=config.randomize, seed=seed)
        for metric in _t.SPECTRA_METRICS:
            rec.record(step=epoch, lens=f"spectra:{name}", layer=frame["layer"].to_numpy(),
                       metric=metric, value=frame[metric].to_numpy(dtype=np.float64),
                       seed=seed)
        for metric, value in (
                ("train_acc", _t.accuracy(net, data.x_train, data.y_train)),
                ("test_acc", _t.accuracy(net, data.x_test, data.y_test)),
                ("alpha_hat_mean", _t.mean_metric(frame, "alpha_hat")),
                ("alpha_mean", _t.mean_metric(frame, "alpha"))):
            rec.record(step=epoch, lens=f"training:{name}", layer="", metric=metric,
                       value=value, seed=seed)

    _t.train(net, data, epochs=job["epochs"], lr=job["lr"], batch_size=job["batch_size"],
             seed=seed, on_epoch=lambda e: (measure(e), task.advance(1) if e else None))
    if job["trajectory"] and seed == config.first_seed:
        state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        ctx.run.write_artifact(f"{name}.pt", lambda fh: torch.save(state, fh))


def run(config: WeightSpectraConfig, ctx: StudyContext) -> None:
    """Train every job of every seed, measuring the spectra; checkpoint after each job."""
    done = set(tuple(x) for x in (ctx.resume or {}).get("done", []))
    todo = [(seed, job) for seed in config.seed_list() for job in jobs(config, seed)]
    total = sum(job["epochs"] for _, job in todo)
    timings = dict((ctx.resume or {}).get("timings", {"jobs_s": 0.0}))
    with ctx.task(f"weight-spectra: {len(todo)} training jobs", total) as task:
        task.update(completed=sum(j["epochs"] for s, j in todo if (j["name"], s) in done))
        for seed, job in todo:
            if (job["name"], seed) in done:
                continue
            t0 = time.perf_counter()
            _run_job(job, config, seed, ctx, task)
            timings["jobs_s"] += time.perf_counter() - t0
            done.add((job["name"], seed))
            ctx.checkpoint({"done": sorted(done), "timings": dict(timings)})
    ctx.run.update_manifest(timings={k: round(v, 3) for k, v in timings.items()})


# ----------------------------------------------------------------------------- results


def spectra_frame(df: pd.DataFrame, job: str) -> pd.DataFrame:
    """Wide per (step, layer) metrics of ``job`` (mean over seeds)."""
    part = df[df["lens"] == f"spectra:{job}"]
    order = list(dict.fromkeys(part["layer"]))
    wide = part.pivot_table(index=["step", "layer"], columns="metric", values="value",
                            aggfunc="mean").reset_index()
    wide.columns.name = None
    wide["layer"] = pd.Categorical(wide["layer"], categories=order, ordered=True)
    return wide.sort_values(["layer", "step"]).reset_index(drop=True)


def final_training(df: pd.DataFrame) -> pd.DataFrame:
    """Per job: the final step's train/test accuracy and mean alpha-hat (mean over seeds)."""
    tr = df[df["lens"].str.startswith("training:")].copy()
    tr["job"] = tr["lens"].str.slice(len("training:"))
    last = tr.groupby("job")["step"].transform("max")
    tr = tr[tr["step"] == last]
    wide = tr.pivot_table(index=["job", "step"], columns="metric", values="value",
                          aggfunc="mean").reset_index()
    wide.columns.name = None
    return wide


def zoo_correlation(df: pd.DataFrame, metric: str = "alpha_hat_mean"
                    ) -> tuple[float, float, pd.DataFrame]:
    """Spearman rank correlation of ``metric`` (mean alpha-hat) and test accuracy over the zoo."""
    from scipy.stats import spearmanr

    tr = df[df["lens"].str.startswith("training:zoo")].copy()
    tr["job"] = tr["lens"].str.slice(len("training:"))
    last = tr.groupby(["job", "seed"])["step"].transform("max")
    tr = tr[tr["step"] == last]
    wide = tr.pivot_table(index=["job", "seed"], columns="metric", values="value").reset_index()
    wide.columns.name = None
    ok = wide.dropna(subset=[metric, "test_acc"]) if len(wide) else wide
    if len(ok) < 3:
        return float("nan"), float("nan"), wide
    rho, p = spearmanr(ok[metric], ok["test_acc"])
    return float(rho), float(p), wide


from deepscope.studies.weight_spectra.figures import figures, summary_table  # noqa: E402

register(Study(
    name="weight-spectra",
    summary="ESD, power-law alpha and MP fits of every layer of digits MLPs/CNNs over "
            "training, batch size, random labels and a zoo (Martin & Mahoney 2021)",
    paper="Martin & Mahoney 2021, JMLR, arXiv 1810.01075; Martin, Peng & Mahoney 2021, "
          "Nature Communications, arXiv 2002.06716",
    config_cls=WeightSpectraConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
