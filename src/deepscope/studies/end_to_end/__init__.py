"""Study ``end-to-end-vs-decomposition``: when end-to-end training of a composition fails.

Shalev-Shwartz, Shamir & Shammah (2017, "Failures of Gradient-Based Deep Learning", arXiv
1703.07950, Section 3).

(I) Tuples of ``k`` 28 x 28 binary images of a random line segment; an image's label is
``+1`` when the segment's angle is below pi/2; the tuple's label is the product of the
``k`` image labels. The network is a shared LeNet-like scorer ``N1`` (two 5 x 5 x 16
convolutions with max-pooling, FC 50, FC 100, one score per image) and a head ``N2`` (one
hidden ReLU layer) on the ``k`` scores. *End-to-end* trains with the tuple label only
(hinge loss); the *decomposition* adds the hinge loss of ``N1`` on each image's label.
End-to-end fails for larger ``k`` while the decomposition solves every ``k``. The cause is
the gradient's signal-to-noise ratio (their Fig. 5), measured here with
:func:`deepscope.lenses.gradients.snr.gradient_snr` on ``N1``'s last layer ``score``,
per example, for ``k`` up to ``max(snr_ks)``: ``N1`` is warmed up for ``snr_warmup`` steps
on single images (so it is partly right, as during training), the tuple score is
``prod_i s_i`` (``snr_head="product"``; ``"mlp"`` uses the net's fresh head and hinge
losses) and the losses are linear in the score: the end-to-end signal is a product of
``k - 1`` per-image correlations and falls with ``k``; the decomposition's does not.

(II) The one-hot example of the same section: ``k`` one-hot inputs, a target that is the
sum of ``k`` linear terms. End-to-end and decomposition have the same minimiser and the
same expected gradient, but the end-to-end gradient's second moment is ``~k`` times
larger (measured with the same lens, per example).

CPU-sized defaults: 400 iterations of 32 tuples per ``k`` (the paper trains far longer);
``channels``, ``hidden``, ``steps`` and ``batch_size`` restore the paper's scale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepscope.errors import check_float, check_int, param_error
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register

__all__ = ["EndToEndConfig"]

MODES = ("end-to-end", "decomposition")


@dataclass(frozen=True)
class EndToEndConfig:
    """Configuration of the ``end-to-end-vs-decomposition`` study."""

    ks: tuple[int, ...] = option((1, 2, 3, 4), "tuple sizes k trained")
    steps: int = option(400, "training iterations per k and approach")
    batch_size: int = option(32, "tuples per minibatch (fresh every step)")
    lr: float = option(1e-3, "Adam learning rate")
    channels: int = option(16, "channels of both 5x5 convolutions of N1")
    hidden: tuple[int, ...] = option((50, 100), "hidden FC widths of N1")
    head_hidden: int = option(100, "hidden width of the head N2")
    margin: float = option(0.0, "excluded angle band (radians) around 0, pi/2, pi")
    n_test: int = option(500, "fresh test tuples")
    eval_every: int = option(50, "iterations between test evaluations")
    snr_ks: tuple[int, ...] = option((1, 2, 3, 4, 5, 6), "tuple sizes of the SNR measurement")
    snr_examples: int = option(1024, "tuples (per-example gradients) per SNR measurement")
    snr_warmup: int = option(40, "single-image training steps of N1 before the SNR")
    snr_head: str = option("product", "tuple score for the SNR", choices=("product", "mlp"))
    one_hot_ks: tuple[int, ...] = option((1, 2, 4, 8, 16, 32), "k of the one-hot example")
    one_hot_dim: int = option(100, "dimension of the one-hot example")
    one_hot_examples: int = option(20000, "samples of the one-hot example")
    seeds: int = option(1, "number of seeds")
    first_seed: int = option(0, "first seed")

    def __post_init__(self) -> None:
        name = "EndToEndConfig"
        validate_choices(self)
        for field, high in (("ks", 16), ("snr_ks", 16), ("one_hot_ks", 10_000)):
            values = getattr(self, field)
            if not values:
                raise param_error(field, name, "a non-empty list of ints", values)
            for v in values:
                check_int(v, field, name, low=1, high=high)
        check_int(self.steps, "steps", name, low=1)
        check_int(self.batch_size, "batch_size", name, low=1, high=100_000)
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_int(self.channels, "channels", name, low=1, high=1024)
        for h in self.hidden:
            check_int(h, "hidden", name, low=1)
        check_int(self.head_hidden, "head_hidden", name, low=1)
        check_float(self.margin, "margin", name, low=0.0, high=0.78)
        check_int(self.n_test, "n_test", name, low=1)
        check_int(self.eval_every, "eval_every", name, low=1)
        check_int(self.snr_examples, "snr_examples", name, low=2)
        check_int(self.snr_warmup, "snr_warmup", name, low=0)
        check_int(self.one_hot_dim, "one_hot_dim", name, low=2)
        check_int(self.one_hot_examples, "one_hot_examples", name, low=2)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


def run(config: EndToEndConfig, ctx: StudyContext) -> None:
    """SNR against k, the one-hot example, then training of every k both ways."""
    from deepscope.studies.end_to_end import parts

    done = [tuple(d) for d in ctx.resume.get("done", [])] if ctx.resume else []
    timings = dict(ctx.resume.get("timings", {})) if ctx.resume else {}
    rec, dev = ctx.run, ctx.device
    seeds = config.seed_list()
    jobs = []
    for seed in seeds:
        jobs += [("snr", seed, 0, ""), ("one_hot", seed, 0, "")]
        jobs += [("train", seed, k, m) for k in config.ks for m in MODES]

    def finish(job, t0):
        done.append(job)
        timings[job[0]] = round(timings.get(job[0], 0.0) + time.perf_counter() - t0, 3)
        ctx.checkpoint({"done": [list(d) for d in done], "timings": timings})

    with ctx.task(f"end-to-end-vs-decomposition: {len(jobs)} jobs", len(jobs)) as task:
        task.update(completed=len(done))
        for job in jobs:
            if job in done:
                continue
            kind, seed, k, mode = job
            t0 = time.perf_counter()
            if kind == "snr":
                state, warm_acc = parts.warm_image_net(config, seed, dev)
                rec.record(step=config.snr_warmup, lens="gradient_snr", layer="image_net",
                           metric="warm_accuracy", value=warm_acc, seed=seed)
                for kk in config.snr_ks:
                    for key, value in parts.tuple_snr(config, kk, seed, dev, state).items():
                        loss, metric = key.split("/")
                        rec.record(step=0, lens="gradient_snr", layer=f"{loss} k={kk}",
                                   metric=metric, value=value, seed=seed)
            elif kind == "one_hot":
                for kk in config.one_hot_ks:
                    res = parts.one_hot_moments(kk, config.one_hot_dim,
                                                config.one_hot_examples, seed, dev)
                    for key, value in res.items():
                        rec.record(step=0, lens="one_hot", layer=f"k={kk}", metric=key,
                                   value=value, seed=seed)
            else:
                def on_eval(step, acc, img, k=k, mode=mode, seed=seed):
                    rec.record(step=step, lens="training", layer=f"{mode} k={k}",
                               metric=["tuple_acc", "image_acc"], value=[acc, img],
                               seed=seed)

                parts.train_tuples(config, k, mode, seed, dev, on_eval)
            finish(job, t0)
            task.advance(1)
    rec.update_manifest(timings_s=timings)


# ----------------------------------------------------------------------------- results


def _split(layer: pd.Series) -> tuple[pd.Series, pd.Series]:
    parts = layer.str.extract(r"^(.*) k=(\d+)$")
    return parts[0], parts[1].astype(int)


def _frames(run) -> dict[str, pd.DataFrame]:
    df = run.measurements()
    out = {}
    tr = df[df.lens == "training"].copy()
    tr["mode"], tr["k"] = _split(tr["layer"])
    out["training"] = tr.groupby(["mode", "k", "step", "metric"])["value"].mean().reset_index()
    snr = df[(df.lens == "gradient_snr") & (df.layer != "image_net")].copy()
    snr["loss"], snr["k"] = _split(snr["layer"])
    out["snr"] = snr.groupby(["loss", "k", "metric"])["value"].mean().reset_index()
    oh = df[df.lens == "one_hot"].copy()
    oh["k"] = oh["layer"].str.extract(r"k=(\d+)")[0].astype(int)
    out["one_hot"] = oh.groupby(["k", "metric"])["value"].mean().reset_index()
    warm = df[(df.lens == "gradient_snr") & (df.layer == "image_net")]["value"]
    out["warm_accuracy"] = float(warm.mean()) if len(warm) else float("nan")
    return out


def summary_table(run) -> pd.DataFrame:
    """Per k: final tuple accuracy of both approaches and the SNR of both losses."""
    f = _frames(run)
    tr, snr = f["training"], f["snr"]
    acc = tr[tr.metric == "tuple_acc"]
    ks = sorted(set(acc.k) | set(snr.k))
    rows = []
    for k in ks:
        row = {"k": k}
        for mode in MODES:
            part = acc[(acc["mode"] == mode) & (acc.k == k)]
            row[f"{mode} accuracy"] = (float(part.loc[part.step.idxmax(), "value"])
                                       if len(part) else float("nan"))
        for loss in MODES:
            part = snr[(snr["loss"] == loss) & (snr.k == k) & (snr.metric == "snr")]
            row[f"{loss} SNR"] = float(part.value.iloc[0]) if len(part) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def figures(run) -> list:
    """Accuracy curves per k, SNR against k, the one-hot second-moment ratio against k."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Chart, Figure, Series

    f = _frames(run)
    tr, snr, oh = f["training"], f["snr"], f["one_hot"]
    acc = tr[tr.metric == "tuple_acc"]
    ks = sorted(acc.k.unique())
    fig = MplFigure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    colors = {k: c for k, c in zip(ks, ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7"))}
    series = []
    for k in ks:
        for mode, style in zip(MODES, ("-", "--")):
            part = acc[(acc["mode"] == mode) & (acc.k == k)].sort_values("step")
            axes[0].plot(part.step, part.value, style, color=colors.get(k, "k"),
                         label=f"k={k} {mode}")
            series.append(Series(name=f"k={k} {mode}", x=part.step.tolist(),
                                 y=part.value.tolist()))
    axes[0].axhline(0.5, color="gray", lw=0.8, ls=":")
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("tuple test accuracy")
    axes[0].set_ylim(0.3, 1.02)
    axes[0].legend(fontsize=7, ncol=2)
    for loss, style in zip(MODES, ("o-", "s--")):
        part = snr[(snr["loss"] == loss) & (snr.metric == "snr")].sort_values("k")
        axes[1].plot(part.k, part.value, style, label=loss)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("k")
    axes[1].set_ylabel("SNR of N1's last-layer gradient")
    axes[1].legend(fontsize=8)
    ratio = oh[oh.metric == "ratio"].sort_values("k")
    axes[2].loglog(ratio.k, ratio.value, "o-", label="measured")
    axes[2].loglog(ratio.k, ratio.k, ":", color="gray", label="k")
    axes[2].set_xlabel("k")
    axes[2].set_ylabel("E||g_e2e||² / E||g_dec||²")
    axes[2].legend(fontsize=8)
    table = summary_table(run)
    accs = "; ".join(f"k={int(r.k)}: {r['end-to-end accuracy']:.2f} vs "
                     f"{r['decomposition accuracy']:.2f}" for _, r in table.iterrows()
                     if not np.isnan(r["end-to-end accuracy"]))
    cfg = run.config
    return [
        Figure(name="end_to_end", title="End-to-end vs decomposition",
               caption=f"Left: tuple test accuracy (solid end-to-end, dashed decomposition); "
                       f"final accuracy end-to-end vs decomposition: {accs}. Middle: per-"
                       f"example gradient SNR of N1's last layer ({cfg.get('snr_head')} "
                       f"head, N1 warmed up to image accuracy {f['warm_accuracy']:.2f}). "
                       "Right: one-hot example, ratio of gradient second moments against k.",
               image=fig),
        Figure(name="accuracy", title="Tuple test accuracy (interactive)",
               caption="Every k, both approaches.",
               chart=Chart(x_label="iteration", y_label="tuple test accuracy",
                           series=series, log_color=False)),
    ]


register(Study(
    name="end-to-end-vs-decomposition",
    summary="k-tuples of line images: end-to-end fails, decomposition works; gradient SNR "
            "(Shalev-Shwartz et al. 2017, Sec. 3)",
    paper="Shalev-Shwartz, Shamir & Shammah 2017, arXiv 1703.07950",
    config_cls=EndToEndConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
