"""Study ``flat-activations``: learning through a staircase activation (Section 5).

Shalev-Shwartz, Shamir & Shammah (2017, "Failures of Gradient-Based Deep Learning", arXiv
1703.07950, Section 5) learn ``y = u(v*^T x + b*)`` for a known, non-decreasing staircase
``u`` (here 55 equal jumps) and ``x = randn(100) / 100``. The derivative of ``u`` is zero
almost everywhere, so the plain gradient through ``u`` is useless. Four approaches:

* ``smooth``: replace ``u`` by a sum of sigmoids (each jump ``h_j 1[z >= t_j]`` becomes
  ``h_j sigmoid((z - t_j) / tau)``) and train ``(w, b)`` by gradient descent on
  ``(u_tau(w^T x + b) - y)^2``; predict with ``u``.
* ``end-to-end``: a ReLU MLP ``x -> y`` trained on the squared loss (ignores ``u``).
* ``multiclass``: a ReLU MLP classifier over the ``56`` steps (cross-entropy on the step
  index); predicts the level of the most likely step.
* ``forward-only``: the paper's rule ``w <- w - eta (u(w^T x + b) - y) x`` (and the same
  for ``b``): ``u`` in the forward pass, the identity in the backward pass (a
  straight-through estimator).

All four see the same fresh minibatches and use Adam with a linearly decaying learning
rate; the test error is the mean squared error on fresh samples. ``step_mse`` (``h^2/12``
for step height ``h``) is the error of predicting ``v*^T x + b*`` itself, i.e. of
learning the direction but not the steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from deepscope.seeding import seeded_init
from deepscope.train import fit
from deepscope.errors import check_float, check_int
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register

__all__ = ["APPROACHES", "FlatActivationsConfig"]

APPROACHES = ("smooth", "end-to-end", "multiclass", "forward-only")


@dataclass(frozen=True)
class FlatActivationsConfig:
    """Configuration of the ``flat-activations`` study."""

    dim: int = option(100, "input dimension d (x = randn(d) / 100)")
    n_steps: int = option(55, "number of jumps of the staircase u")
    z_range: float = option(2.5, "the jumps are evenly spaced on [-z_range, z_range]")
    steps: int = option(3000, "training iterations of every approach")
    batch_size: int = option(64, "minibatch size (fresh samples every step)")
    lr_linear: float = option(0.2, "Adam learning rate of (w, b): smooth and forward-only")
    lr_net: float = option(1e-3, "Adam learning rate of the MLPs: end-to-end and multiclass")
    hidden: tuple[int, ...] = option((100, 100), "hidden widths of the MLPs")
    temperature: float = option(0.5, "sigmoid temperature of the smooth u, in step widths")
    n_test: int = option(10000, "fresh test samples")
    eval_every: int = option(100, "iterations between test evaluations")
    approaches: str = option("all", "approaches to run", choices=("all", *APPROACHES))
    seeds: int = option(1, "number of seeds (target, data and initialisation)")
    first_seed: int = option(0, "first seed")

    def __post_init__(self) -> None:
        name = "FlatActivationsConfig"
        validate_choices(self)
        check_int(self.dim, "dim", name, low=1, high=100_000)
        check_int(self.n_steps, "n_steps", name, low=1, high=10_000)
        check_float(self.z_range, "z_range", name, low=0.0, closed="neither")
        check_int(self.steps, "steps", name, low=1)
        check_int(self.batch_size, "batch_size", name, low=1, high=1_000_000)
        check_float(self.lr_linear, "lr_linear", name, low=0.0, closed="neither")
        check_float(self.lr_net, "lr_net", name, low=0.0, closed="neither")
        for h in self.hidden:
            check_int(h, "hidden", name, low=1)
        check_float(self.temperature, "temperature", name, low=0.0, closed="neither")
        check_int(self.n_test, "n_test", name, low=1)
        check_int(self.eval_every, "eval_every", name, low=1)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def approach_list(self) -> list[str]:
        """The approaches to run, in order."""
        return list(APPROACHES) if self.approaches == "all" else [self.approaches]


def _mlp(d: int, hidden: tuple[int, ...], out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, out))
    return nn.Sequential(*layers)


class _Linear(nn.Module):
    """``z = w^T x + b`` passed through the staircase (exact, smoothed or straight-through)."""

    def __init__(self, d: int, u, mode: str, tau: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(d))
        self.b = nn.Parameter(torch.zeros(()))
        self.u, self.mode, self.tau = u, mode, tau

    def z(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x @ self.w + self.b

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        z = self.z(x)
        if self.mode == "smooth":
            return self.u.smooth(z, self.tau)
        return z + (self.u(z) - z).detach()  # forward: u(z); backward: identity


def _build(approach: str, cfg: FlatActivationsConfig, u, device):
    """Model, loss(model, batch), predict(model, x) and learning rate of an approach."""
    width = 2 * cfg.z_range / cfg.n_steps
    if approach in ("smooth", "forward-only"):
        model = _Linear(cfg.dim, u, "smooth" if approach == "smooth" else "st",
                        cfg.temperature * width).to(device)

        def loss(m, dat):
            return 0.5 * ((m(dat.x) - dat.y) ** 2).mean()

        def predict(m, x):
            return u(m.z(x))
        return model, loss, predict, cfg.lr_linear
    if approach == "end-to-end":
        model = _mlp(cfg.dim, cfg.hidden, 1).to(device)

        def loss(m, dat):
            return 0.5 * ((m(dat.x).squeeze(-1) - dat.y) ** 2).mean()

        def predict(m, x):
            return m(x).squeeze(-1)
        return model, loss, predict, cfg.lr_net
    model = _mlp(cfg.dim, cfg.hidden, cfg.n_steps + 1).to(device)

    def loss(m, dat):
        return nn.functional.cross_entropy(m(dat.x), u.index(dat.z))

    def predict(m, x):
        return u.levels.to(device=x.device, dtype=x.dtype)[m(x).argmax(-1)]
    return model, loss, predict, cfg.lr_net


def target(cfg: FlatActivationsConfig, seed: int):
    """The staircase ``u`` and the true ``(v*, b*)`` of a seed (``v*^T x`` ~ N(0, 1))."""
    from deepscope.data.staircase import staircase

    gen = torch.Generator().manual_seed(10_000 + seed)
    v = torch.randn(cfg.dim, generator=gen, dtype=torch.float64)
    v = v / v.norm() * 100.0
    b = float(0.5 * (2 * torch.rand((), generator=gen, dtype=torch.float64) - 1))
    return staircase(cfg.n_steps, low=-cfg.z_range, high=cfg.z_range), v.float(), b


def train_approach(approach: str, cfg: FlatActivationsConfig, seed: int, device,
                   on_eval=None) -> tuple[nn.Module, callable]:
    """Train one approach for one seed; ``on_eval(step, test_mse)`` at every evaluation."""
    from deepscope.data.staircase import staircase_data

    u, v, b = target(cfg, seed)
    test = staircase_data(cfg.n_test, u, v, b, seed=2**31 - 1 - seed, device=device)
    model, loss_fn, predict, lr = seeded_init(lambda: _build(approach, cfg, u, device), seed)

    def evaluate(step: int, net, logs) -> None:
        with torch.no_grad():
            mse = float(((predict(model, test.x) - test.y) ** 2).mean())
        if on_eval is not None:
            on_eval(step, mse)

    def batches(step, generator):  # fresh samples every step, seeded by (seed, step)
        return staircase_data(cfg.batch_size, u, v, b, seed=seed * 10_000_019 + step,
                              device=device)

    def update(net, dat, opt):
        loss = loss_fn(net, dat)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}

    fit(model, None, batches, optimizer="adam", lr=lr,
        steps=cfg.steps, seed=seed, step_fn=update, on_step=evaluate,
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(
            opt, lambda t: 1.0 - t / cfg.steps),
        schedule=[0, *range(cfg.eval_every, cfg.steps + 1, cfg.eval_every), cfg.steps])
    return model, predict


def run(config: FlatActivationsConfig, ctx: StudyContext) -> None:
    """Train every approach for every seed and record the test error over iterations."""
    seeds, approaches = config.seed_list(), config.approach_list()
    done = list(ctx.resume.get("done", [])) if ctx.resume else []
    rec = ctx.run
    width = 2 * config.z_range / config.n_steps
    timings = dict(ctx.resume.get("timings", {})) if ctx.resume else {}
    with ctx.task(f"flat-activations: {len(approaches)} approaches x {len(seeds)} seed(s)",
                  len(seeds) * len(approaches)) as task:
        task.update(completed=len(done))
        for seed in seeds:
            for approach in approaches:
                if [seed, approach] in done:
                    continue
                t0 = time.perf_counter()

                def on_eval(step, mse, approach=approach, seed=seed):
                    rec.record(step=step, lens="training", layer=approach, metric="test_mse",
                               value=mse, seed=seed)

                model, predict = train_approach(approach, config, seed, ctx.device, on_eval)
                _record_fit(rec, approach, config, seed, model, predict, ctx.device)
                timings[approach] = round(timings.get(approach, 0.0)
                                          + time.perf_counter() - t0, 3)
                done.append([seed, approach])
                ctx.checkpoint({"done": done, "timings": timings})
                task.advance(1)
    rec.record(step=config.steps, lens="reference", layer="", metric="step_mse",
               value=width ** 2 / 12, seed=seeds[0])
    rec.update_manifest(timings_s=timings)


def _record_fit(rec, approach, cfg, seed, model, predict, device) -> None:
    """Record the learned function on a grid of ``v*^T x + b*`` for the figure."""
    from deepscope.data.staircase import staircase_data

    u, v, b = target(cfg, seed)
    dat = staircase_data(400, u, v, b, seed=2**30 + seed, device=device)
    order = torch.argsort(dat.z)
    with torch.no_grad():
        pred = predict(model, dat.x[order])
    z = dat.z[order].cpu().numpy()
    rec.record(step=cfg.steps, lens="fit", layer=approach, metric="z", value=z, seed=seed)
    rec.record(step=cfg.steps, lens="fit", layer=approach, metric="prediction",
               value=pred.cpu().numpy(), seed=seed)


# ----------------------------------------------------------------------------- results


def summary_table(run) -> pd.DataFrame:
    """Final test MSE per approach (mean and min over seeds) and its ratio to h^2/12."""
    df = run.measurements()
    tr = df[(df.lens == "training") & (df.metric == "test_mse")]
    ref = df[df.metric == "step_mse"]["value"]
    step_mse = float(ref.iloc[0]) if len(ref) else float("nan")
    last = tr[tr.step == tr.step.max()]
    rows = []
    for approach in [a for a in APPROACHES if a in set(last.layer)]:
        vals = last[last.layer == approach]["value"]
        rows.append({"approach": approach, "final test MSE": float(vals.mean()),
                     "min over seeds": float(vals.min()),
                     "MSE / (h^2/12)": float(vals.mean()) / step_mse,
                     "seeds": int(vals.size)})
    return pd.DataFrame(rows)


def figures(run) -> list:
    """Test error against iterations, and the learned functions against v*^T x + b*."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Chart, Figure, Series

    df = run.measurements()
    tr = df[(df.lens == "training") & (df.metric == "test_mse")]
    curves = tr.groupby(["layer", "step"])["value"].mean().reset_index()
    ref = df[df.metric == "step_mse"]["value"]
    step_mse = float(ref.iloc[0]) if len(ref) else float("nan")
    approaches = [a for a in APPROACHES if a in set(curves.layer)]
    fig = MplFigure(figsize=(11, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    series = []
    for a in approaches:
        part = curves[curves.layer == a]
        ax1.plot(part.step, part.value, label=a)
        series.append(Series(name=a, x=part.step.tolist(), y=np.log10(part.value).tolist(),
                             hover=[f"{a} · step {s} · MSE {v:.3g}"
                                    for s, v in zip(part.step, part.value)]))
    ax1.axhline(step_mse, color="gray", ls=":", label="h²/12 (steps not learned)")
    ax1.set_yscale("log")
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("test MSE")
    ax1.legend(fontsize=8)
    fit = df[df.lens == "fit"]
    seed0 = int(fit.seed.min()) if len(fit) else 0
    first = True
    for a in approaches:
        part = fit[(fit.layer == a) & (fit.seed == seed0)]
        z = part[part.metric == "z"]["value"].to_numpy()
        p = part[part.metric == "prediction"]["value"].to_numpy()
        if first and len(z):
            cfg = run.config
            from deepscope.data.staircase import staircase
            u = staircase(cfg["n_steps"], low=-cfg["z_range"], high=cfg["z_range"])
            ax2.step(z, u(torch.tensor(z)).numpy(), where="post", color="black", lw=2,
                     label="true u", alpha=0.35)
            first = False
        ax2.plot(z, p, ".", ms=2.5, label=a)
    ax2.set_xlabel("v*ᵀx + b*")
    ax2.set_ylabel("prediction")
    ax2.legend(fontsize=8, markerscale=3)
    table = summary_table(run)
    text = "; ".join(f"{r['approach']} {r['final test MSE']:.2e}" for _, r in table.iterrows())
    chart = Chart(x_label="iteration", y_label="log10 test MSE", series=series,
                  log_color=False)
    return [
        Figure(name="flat_activations", title="Learning through a staircase activation",
               caption=f"Left: test MSE (mean over seeds); dotted: h²/12 = {step_mse:.2e}, the "
                       f"error of predicting v*ᵀx + b* without its steps. Right: predictions "
                       f"on fresh inputs (seed {seed0}). Final test MSE: {text}.",
               image=fig),
        Figure(name="test_mse", title="Test MSE against iterations (interactive)",
               caption="log10 of the test MSE of each approach.", chart=chart),
    ]


register(Study(
    name="flat-activations",
    summary="Staircase activation: smoothing, end-to-end, multiclass vs forward-only "
            "(Shalev-Shwartz et al. 2017, Sec. 5)",
    paper="Shalev-Shwartz, Shamir & Shammah 2017, arXiv 1703.07950",
    config_cls=FlatActivationsConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
