"""Study ``parity``: gradient training fails on parities of many bits (Shalev-Shwartz et al.).

Shalev-Shwartz, Shamir & Shammah (2017, arXiv 1703.07950, section 2): ``x`` uniform on
``{+1, -1}^d``, the label is the parity of a random subset of about ``d/2`` coordinates; a
one-hidden-layer ReLU net of width ``10 d`` trained with the hinge loss, SGD (lr 0.01,
batch 128, fresh samples every step) learns it for ``d <= 10`` and stays at chance for
``d = 30``. The reason (their Theorem 1) is measured beside it: the variance of the gradient
across all parities, computed exactly by :func:`deepscope.lenses.gradients.
parity_gradient_variance`, falls like ``2^-d``. The linear-periodic family
``cos(r v^T x)`` with Gaussian ``x`` is measured too (Monte-Carlo over sampled ``v``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from deepscope.seeding import seeded_init
from deepscope.errors import check_float, check_int, param_error
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register

__all__ = ["ParityConfig"]


def hinge(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean hinge loss ``max(0, 1 - y p)`` of outputs ``(n, 1)`` against labels ``(n,)``."""
    return (1 - out.squeeze(-1) * y).clamp(min=0).mean()


def square(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean square loss ``(p - y)^2 / 2``."""
    return 0.5 * ((out.squeeze(-1) - y) ** 2).mean()


@dataclass(frozen=True)
class ParityConfig:
    """Configuration of the ``parity`` study (defaults: the paper's protocol)."""

    dims: tuple[int, ...] = option((5, 10, 20, 30), "input dimensions d trained")
    width_factor: int = option(10, "hidden width = width_factor * d")
    lr: float = option(0.01, "SGD learning rate")
    batch_size: int = option(128, "fresh samples per SGD step")
    max_iterations: int = option(50000, "SGD steps at most")
    target_accuracy: float = option(0.99, "a net stops once its test accuracy reaches this")
    eval_every: int = option(1000, "steps between accuracy evaluations")
    n_test: int = option(10000, "fresh test samples per net")
    seeds: int = option(3, "seeds per d, trained at once")
    first_seed: int = option(0, "first seed")
    variance_dims: tuple[int, ...] = option((2, 4, 6, 8, 10, 12, 14, 16, 18),
                                            "extra d at which the exact variance is computed")
    exact_max_d: int = option(20, "largest d with the exact (all 2^d inputs) variance")
    sampled_inputs: int = option(32768, "inputs sampled for the variance when d > exact_max_d")
    periodic_dims: tuple[int, ...] = option((5, 10, 20, 30), "d of the linear-periodic family")
    periodic_r: tuple[float, ...] = option((1.0, 2.0, 3.0, 4.0), "frequencies r of cos(r v.x)")
    periodic_directions: int = option(64, "sampled directions v per (d, r)")
    periodic_samples: int = option(16384, "Gaussian inputs x per (d, r)")
    threads: int = option(1, "CPU threads while the study runs (small matmuls: 1 is fastest)")

    def __post_init__(self) -> None:
        name = "ParityConfig"
        validate_choices(self)
        for field in ("dims", "periodic_dims"):
            values = getattr(self, field)
            if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                                 for v in values):
                raise param_error(field, name, "a non-empty list of positive ints", values)
        if any(not isinstance(v, int) or v < 1 or v > 24 for v in self.variance_dims):
            raise param_error("variance_dims", name, "a list of ints in [1, 24]",
                              self.variance_dims)
        if not self.periodic_r or any(float(r) <= 0 for r in self.periodic_r):
            raise param_error("periodic_r", name, "a non-empty list of positive floats",
                              self.periodic_r)
        check_int(self.width_factor, "width_factor", name, low=1, high=1000)
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_int(self.batch_size, "batch_size", name, low=1)
        check_int(self.max_iterations, "max_iterations", name, low=1)
        check_float(self.target_accuracy, "target_accuracy", name, low=0.5, high=1.0)
        check_int(self.eval_every, "eval_every", name, low=1)
        check_int(self.n_test, "n_test", name, low=1)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)
        check_int(self.exact_max_d, "exact_max_d", name, low=1, high=24)
        check_int(self.sampled_inputs, "sampled_inputs", name, low=1)
        check_int(self.periodic_directions, "periodic_directions", name, low=2)
        check_int(self.periodic_samples, "periodic_samples", name, low=1)
        check_int(self.threads, "threads", name, low=1, high=256)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


def _variance_rows(rec, net, d: int, seed: int, cfg: ParityConfig) -> None:
    from deepscope.lenses.gradients import parity_gradient_variance

    sampled = d > cfg.exact_max_d
    res = parity_gradient_variance(net, hinge, d, batch_size=8192,
                                   n_inputs=cfg.sampled_inputs if sampled else None, seed=seed)
    for metric, value in (("variance", res.variance), ("g_sq", res.g_sq),
                          ("mean_sq_norm", res.mean_sq_norm), ("exact", float(not sampled))):
        rec.record(step=0, lens="gradients", layer=f"d={d}", metric=metric, value=value,
                   seed=seed)


def _periodic(cfg: ParityConfig, ctx: StudyContext, seed: int) -> None:
    from deepscope.data.parity import linear_periodic, random_directions
    from deepscope.lenses.gradients import gradient_variance_across_targets

    with ctx.task("parity: linear-periodic variance", len(cfg.periodic_dims)) as task:
        for d in cfg.periodic_dims:
            width = cfg.width_factor * d
            net = seeded_init(lambda d=d, width=width: torch.nn.Sequential(
                torch.nn.Linear(d, width), torch.nn.ReLU(), torch.nn.Linear(width, 1)),
                10_007 * d + seed, ctx.device)
            v = random_directions(cfg.periodic_directions, d, seed=seed + d)
            for r in cfg.periodic_r:
                x, y, _ = linear_periodic(cfg.periodic_samples, d, r=float(r), v=v,
                                          seed=seed, device=ctx.device)
                res = gradient_variance_across_targets(net, square, x, y)
                for metric, value in (("variance", res.variance),
                                      ("mean_sq_norm", res.mean_sq_norm)):
                    ctx.run.record(step=0, lens="periodic", layer=f"d={d},r={float(r):g}",
                                   metric=metric, value=value, seed=seed)
            task.advance(1)


def run(config: ParityConfig, ctx: StudyContext) -> None:
    """Exact variances, the linear-periodic family, then all (d, seed) nets trained."""
    from deepscope.data.parity import random_subset
    from deepscope.studies.parity.training import ParityGroup
    from deepscope.train import fit

    cfg, rec = config, ctx.run
    seeds = cfg.seed_list()
    state = dict(ctx.resume) if ctx.resume else {}
    groups = {d: ParityGroup(d, cfg.width_factor * d, seeds,
                             [random_subset(d, seed=s) for s in seeds], ctx.device)
              for d in cfg.dims}
    if not state.get("measured"):
        t0 = time.perf_counter()
        extra = sorted(set(cfg.variance_dims) - set(cfg.dims))
        with ctx.task("parity: exact gradient variance", len(extra) + len(cfg.dims)) as t:
            for d in extra:
                w = cfg.width_factor * d
                net = seeded_init(lambda d=d, w=w: torch.nn.Sequential(
                    torch.nn.Linear(d, w), torch.nn.ReLU(), torch.nn.Linear(w, 1)),
                    10_007 * d + seeds[0], ctx.device)
                _variance_rows(rec, net, d, seeds[0], cfg)
                t.advance(1)
            for d, g in groups.items():
                for i, s in enumerate(seeds):
                    _variance_rows(rec, g.module(i), d, s, cfg)
                t.advance(1)
        _periodic(cfg, ctx, seeds[0])
        state = {"measured": True, "variance_s": time.perf_counter() - t0, "groups": {}}
        ctx.checkpoint(state)
    t0 = time.perf_counter()
    state.setdefault("finished", [])
    for d, g in groups.items():
        if d in state["finished"]:
            continue
        if d in state["groups"]:
            g.load_state_dict(state["groups"][d])
        test = g.sample(cfg.n_test, torch.Generator().manual_seed(99_991 + d))  # shared
        seed_arr = np.asarray(seeds)
        label = f"parity: d={d}, {len(seeds)} seed(s), width {cfg.width_factor * d}"
        window = {"loss": torch.zeros(len(seeds), dtype=torch.float64, device=ctx.device),
                  "since": g.steps}

        def step_fn(group, batch, optimizer, window=window):
            window["loss"] += group.step(cfg.batch_size, cfg.lr)
            return {}

        def on_step(step, group, logs, test=test, seed_arr=seed_arr, d=d, window=window):
            n = step - window["since"]
            acc = group.accuracy(test)
            active = group.active.cpu().numpy()
            rec.record(step=step, lens="training", layer=f"d={d}", metric="accuracy",
                       value=np.where(active, acc.cpu().numpy(), np.nan), seed=seed_arr)
            rec.record(step=step, lens="training", layer=f"d={d}", metric="loss",
                       value=np.where(active, (window["loss"] / n).cpu().numpy(), np.nan),
                       seed=seed_arr)
            group.active &= acc < cfg.target_accuracy
            window["loss"].zero_()
            window["since"] = step
            state["groups"][d] = group.state_dict()
            ctx.checkpoint(state)
            return not bool(group.active.any())

        if g.steps < cfg.max_iterations and bool(g.active.any()):
            marks = set(range(g.steps + cfg.eval_every, cfg.max_iterations, cfg.eval_every))
            fit(g, None, lambda step, generator: None, optimizer=None, step_fn=step_fn,
                steps=cfg.max_iterations, schedule=marks | {cfg.max_iterations},
                on_step=on_step, resume={"step": g.steps},
                progress=lambda desc, total, label=label: ctx.task(label, total))
        final = g.accuracy(test).cpu().numpy()
        rec.record(step=g.steps, lens="final", layer=f"d={d}", metric="accuracy",
                   value=final, seed=seed_arr)
        state["finished"].append(d)
        ctx.checkpoint(state)
    rec.update_manifest(timings={"variance_s": round(state.get("variance_s", 0.0), 3),
                                 "train_s": round(time.perf_counter() - t0, 3)})


def _dims(layer: pd.Series) -> np.ndarray:
    return layer.str.extract(r"d=(\d+)")[0].astype(int).to_numpy()


def summary_table(run) -> pd.DataFrame:
    """Per trained d: final accuracy (mean, min over seeds), steps used, exact variance."""
    df = run.measurements()
    fin = df[df.lens == "final"].assign(d=lambda f: _dims(f.layer))
    var = df[(df.lens == "gradients") & (df.metric == "variance")].assign(
        d=lambda f: _dims(f.layer))
    rows = []
    for d, part in fin.groupby("d"):
        v = var[var.d == d]["value"]
        rows.append({"d": int(d), "final accuracy (mean)": round(float(part.value.mean()), 4),
                     "final accuracy (min)": round(float(part.value.min()), 4),
                     "steps": int(part.step.max()),
                     "gradient variance": float(v.mean()) if len(v) else float("nan"),
                     "log2 variance": round(float(np.log2(v.mean())), 2) if len(v) else None})
    return pd.DataFrame(rows)


def figures(run) -> list:
    from deepscope.studies.parity.figures import parity_figures

    return parity_figures(run)


register(Study(
    name="parity",
    summary="Parities of d bits: SGD learns d <= 10, fails at d = 30; gradient variance "
            "across targets falls like 2^-d (Shalev-Shwartz et al. 2017)",
    paper="Shalev-Shwartz, Shamir & Shammah 2017, arXiv 1703.07950",
    config_cls=ParityConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
    stacks_seeds=True,
))
