"""Study ``landscape``: sharp vs flat minima of small- and large-batch training, and the
barrier between two solutions before and after neuron alignment.

Keskar, Mudigere, Nocedal, Smelyanskiy & Tang (2017, arXiv 1609.04836) report that
large-batch training converges to sharper minima (larger Hessian eigenvalues and
epsilon-sharpness) that generalise worse. Li et al. (2018, arXiv 1712.09913) draw such
minima along filter-normalised random directions. Linear interpolation between two
independently trained nets shows a loss barrier; much of it is the permutation symmetry
of hidden units, and aligning the units first lowers it (Entezari et al. 2022, arXiv
2110.06296; Ainsworth et al. 2023, arXiv 2209.04836).

Protocol: an MLP and the SmallCNN on scikit-learn's digits, trained with Adam by small
batches and by large (full-train-set) batches, a few seeds, each until its full train loss
is below ``target_loss`` (both regimes end at 100% train accuracy and a comparable
loss). For each trained net: test accuracy, top Hessian eigenvalue, trace (with its
standard error), spectral density, epsilon-sharpness (relative and absolute boxes), the
1-D and 2-D loss around it. Then the straight path between the first
two seeds of each setting, before and after alignment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from deepscope.errors import check_float, check_int, param_error
from deepscope.nets.mlp import check_widths
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register

__all__ = ["LandscapeConfig"]

REGIMES = ("small", "large")


@dataclass(frozen=True)
class LandscapeConfig:
    """Configuration of the ``landscape`` study (defaults run in minutes on 2 CPU cores)."""

    archs: str = option("both", "networks to train", choices=("both", "mlp", "cnn"))
    mlp_widths: tuple[int, ...] = option((64, 128, 128, 10), "MLP widths, input to output")
    small_batch: int = option(16, "small-batch size")
    large_batch: int = option(1348, "large-batch size (1348 = the whole train set)")
    small_epochs: int = option(100, "at most this many epochs of small-batch training")
    large_epochs: int = option(2000, "at most this many epochs (= steps at full batch) of "
                                     "large-batch training")
    target_loss: float = option(0.005, "train each net until its full train loss is below "
                                       "this (0: run all epochs)")
    lr: float = option(1e-3, "Adam learning rate")
    seeds: int = option(3, "number of seeds (>= 2 for the interpolation)")
    first_seed: int = option(0, "first seed")
    epsilon: float = option(1e-3, "box size of the epsilon-sharpness (Keskar et al.)")
    sharpness_steps: int = option(10, "projected gradient-ascent steps of the sharpness")
    trace_rtol: float = option(5e-2, "relative standard error of the Hessian trace")
    trace_max_hvp: int = option(150, "at most this many Hessian-vector products for the trace")
    density_runs: int = option(2, "stochastic Lanczos quadrature runs")
    density_iter: int = option(40, "Lanczos steps per density run")
    line_steps: int = option(41, "points of the 1-D loss curve (odd)")
    plane_steps: int = option(21, "points per axis of the 2-D loss plane (odd)")
    span: float = option(0.5, "half-width of the line and plane (filter-normalised units)")
    interp_steps: int = option(21, "points on the interpolation path")

    def __post_init__(self) -> None:
        name = "LandscapeConfig"
        validate_choices(self)
        widths = check_widths(self.mlp_widths, name)
        if widths[0] != 64 or widths[-1] != 10:
            raise param_error("mlp_widths", name, "widths from 64 inputs to 10 classes",
                              self.mlp_widths)
        check_int(self.small_batch, "small_batch", name, low=1, high=1348)
        check_int(self.large_batch, "large_batch", name, low=1, high=1348)
        check_int(self.small_epochs, "small_epochs", name, low=1)
        check_int(self.large_epochs, "large_epochs", name, low=1)
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_float(self.target_loss, "target_loss", name, low=0.0)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)
        check_float(self.epsilon, "epsilon", name, low=0.0, closed="neither")
        check_int(self.sharpness_steps, "sharpness_steps", name, low=1)
        check_float(self.trace_rtol, "trace_rtol", name, low=0.0, high=1.0, closed="neither")
        check_int(self.trace_max_hvp, "trace_max_hvp", name, low=30)
        check_int(self.density_runs, "density_runs", name, low=1)
        check_int(self.density_iter, "density_iter", name, low=2)
        for f in ("line_steps", "plane_steps"):
            v = check_int(getattr(self, f), f, name, low=3, high=1001)
            if v % 2 == 0:
                raise param_error(f, name, "an odd int in [3, 1001]", v)
        check_float(self.span, "span", name, low=0.0, closed="neither")
        check_int(self.interp_steps, "interp_steps", name, low=2, high=1001)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def arch_list(self) -> list[str]:
        return ["mlp", "cnn"] if self.archs == "both" else [self.archs]

    def units(self) -> list[tuple[str, str, int]]:
        """Every (arch, regime, seed) trained, in order."""
        return [(a, r, s) for a in self.arch_list() for r in REGIMES for s in self.seed_list()]


def _data(arch: str, device):
    from deepscope.data import digits

    d = digits(seed=0, image=arch == "cnn", device=device)
    return d.x_train, d.y_train, d.x_test, d.y_test


def _record_unit(rec, arch, regime, seed, train_s, stats, m) -> None:
    key = f"{arch}/{regime}"
    for metric, value in stats.items():
        rec.record(step=0, lens="training", layer=key, metric=metric, value=value, seed=seed)
    rec.record(step=0, lens="training", layer=key, metric="train_s", value=train_s, seed=seed)
    for metric in ("top_eigenvalue", "trace", "trace_stderr", "trace_n_hvp", "trace_converged"):
        rec.record(step=0, lens="curvature", layer=key, metric=metric, value=m[metric], seed=seed)
    for box in ("relative", "absolute"):
        rec.record(step=0, lens="sharpness", layer=key, metric=box, value=m[f"sharpness_{box}"],
                   seed=seed)
    idx = np.arange(len(m["line"]))
    rec.record(step=idx, lens="line", layer=key, metric="loss", value=m["line"], seed=seed)
    rec.record(step=idx, lens="line", layer=key, metric="alpha", value=m["line_coords"], seed=seed)
    flat = m["plane"].ravel()
    rec.record(step=np.arange(flat.size), lens="plane", layer=key, metric="loss", value=flat,
               seed=seed)
    gi = np.arange(len(m["density_grid"]))
    rec.record(step=gi, lens="density", layer=key, metric="grid", value=m["density_grid"],
               seed=seed)
    rec.record(step=gi, lens="density", layer=key, metric="density", value=m["density"],
               seed=seed)


def _interpolations(config, ctx, models) -> None:
    import torch.nn.functional as F

    from deepscope.lenses import landscape
    from deepscope.studies.landscape.work import make_net

    seeds = config.seed_list()
    if len(seeds) < 2:
        return
    rec = ctx.run
    for arch in config.arch_list():
        x, y, _, _ = _data(arch, ctx.device)
        for regime in REGIMES:
            nets = []
            for s in seeds[:2]:
                net = make_net(arch, s, config.mlp_widths).to(ctx.device)
                net.load_state_dict(models[f"{arch}/{regime}/{s}"])
                nets.append(net.eval())
            key = f"{arch}/{regime}"
            for aligned in (False, True):
                path = landscape.interpolate(nets[0], nets[1], F.cross_entropy, (x, y),
                                             steps=config.interp_steps, align=aligned)
                tag = "aligned" if aligned else "plain"
                idx = np.arange(len(path.t))
                rec.record(step=idx, lens="interpolation", layer=key, metric=f"loss_{tag}",
                           value=path.loss, seed=seeds[0])
                rec.record(step=idx, lens="interpolation", layer=key, metric=f"acc_{tag}",
                           value=path.accuracy, seed=seeds[0])
                rec.record(step=0, lens="interpolation", layer=key, metric=f"barrier_{tag}",
                           value=path.barrier, seed=seeds[0])


def run(config: LandscapeConfig, ctx: StudyContext) -> None:
    """Train every (arch, regime, seed), measure its minimum, then interpolate."""
    from deepscope.studies.landscape.work import evaluate, make_net, measure, train

    state = ctx.resume or {"done": [], "models": {}}
    done, models = list(state["done"]), dict(state["models"])
    units = config.units()
    with ctx.task(f"landscape: {len(units)} trainings + measurements", len(units) + 1) as task:
        task.update(completed=len(done))
        for arch, regime, seed in units:
            key = f"{arch}/{regime}/{seed}"
            if key in done:
                continue
            x, y, xt, yt = _data(arch, ctx.device)
            net = make_net(arch, seed, config.mlp_widths).to(ctx.device)
            small = regime == "small"
            t0 = time.perf_counter()
            epochs, steps = train(
                net, x, y, batch_size=config.small_batch if small else config.large_batch,
                epochs=config.small_epochs if small else config.large_epochs, lr=config.lr,
                seed=seed, target_loss=config.target_loss)
            train_s = time.perf_counter() - t0
            tr_loss, tr_acc = evaluate(net, x, y)
            te_loss, te_acc = evaluate(net, xt, yt)
            stats = {"train_loss": tr_loss, "train_acc": tr_acc, "test_loss": te_loss,
                     "test_acc": te_acc, "epochs": epochs, "steps": steps}
            m = measure(net, (x, y), config, seed)
            _record_unit(ctx.run, arch, regime, seed, train_s, stats, m)
            models[key] = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            done.append(key)
            ctx.checkpoint({"done": list(done), "models": dict(models)})
            task.advance(1)
        _interpolations(config, ctx, models)
        task.advance(1)


from deepscope.studies.landscape.figures import figures, summary_table  # noqa: E402

register(Study(
    name="landscape",
    summary="Sharp vs flat minima of small/large-batch training (Keskar et al. 2017), "
            "loss surfaces (Li et al. 2018) and barriers before/after neuron alignment",
    paper="Keskar et al. 2017, arXiv 1609.04836; Li et al. 2018, arXiv 1712.09913; "
          "Entezari et al. 2022, arXiv 2110.06296",
    config_cls=LandscapeConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
