"""Study ``conditioning``: architecture and conditioning decide how fast SGD converges.

Shalev-Shwartz, Shamir & Shammah (2017, arXiv 1703.07950, "Failures of Gradient-Based Deep
Learning", section "Architecture and conditioning"): a piecewise-linear curve with ``k``
pieces is sampled at ``n`` points, ``f = W p`` with ``W_ij = [i - j + 1]_+`` and ``p`` the
``k``-sparse vector of slope changes. Recovering ``p`` from ``f`` is linear, ``p = W^{-1} f``,
and ``W^{-1}`` is the convolution with ``(1, -2, 1)`` (second difference). Three learners,
all trained by SGD on the square loss ``|p_hat - p|^2 / (2n)`` with fresh samples:

* **fc**: ``p_hat = U f`` with ``U`` an ``n x n`` matrix; curvature ``E[f f^T] / n`` whose
  condition number is that of ``W^T W`` (it grows like ``n^3.5`` and faster);
* **conv**: ``p_hat_j = u_0 f_j + u_1 f_{j-1} + u_2 f_{j-2}`` (3 taps, zero padding), the
  right architecture; its 3 x 3 curvature is still badly conditioned;
* **conv+conditioning**: the same convolution with its gradient multiplied by the inverse of
  its 3 x 3 curvature (equivalently: SGD on whitened input patches), condition number 1.

fc and conv use the step ``1 / lambda_max`` of their exact population curvature
(``E[p p^T] = (k/n) E[a^2] I`` for ``k`` distinct uniformly placed kinks with zero-mean
amplitudes); conv+conditioning uses the step 0.5 on the whitened problem (whose curvature is
the identity). Recorded: relative test error ``E|p_hat - p|^2 / E|p|^2`` of SGD against
iterations (within a budget), the same error of gradient descent on the exact population
loss in closed form (SGD's expected iterate follows it; fc needs ~10^8 iterations at
``n = 100``, which no SGD budget on a CPU reaches), iterations to reach ``error_threshold``
for both, one test curve reconstructed by each learner, and condition numbers against ``n``.
At a small ``check_n`` (default 10) SGD runs until every learner reaches the threshold, so
the order fc >> conv >> conv+conditioning is also measured with SGD alone.

The paper's section text could not be consulted offline when this was written; the setup
follows the issue's summary of it (``n = 100``, ``k = 3``, ``W_ij = [i - j + 1]_+``, the
three architectures, condition numbers against ``n``, iterations to a fixed error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from deepscope.errors import check_float, check_int, param_error
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register
from deepscope.train import fit

__all__ = ["ConditioningConfig", "curve_matrix", "gd_iterations_to", "piecewise_linear",
           "population_gd_error"]

LEARNERS = ("fc", "conv", "conv+conditioning")
CONDITIONED_STEP = 0.5
KERNEL = (1.0, -2.0, 1.0)
CHUNK = 100   # SGD steps whose fresh curves are drawn in one call
GD_HORIZON = 10   # population gradient descent is recorded up to 10**GD_HORIZON iterations


def curve_matrix(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``W`` with ``W_ij = [i - j + 1]_+`` (``n x n``, lower triangular)."""
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    return (i - j + 1).clamp(min=0).to(dtype)


def piecewise_linear(m: int, n: int, k: int, gen: torch.Generator
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``m`` curves: ``p`` (``m x n``, ``k`` kinks at distinct uniform positions, N(0,1)
    amplitudes) and their samples ``f = p W^T``."""
    pos = torch.rand(m, n, generator=gen, dtype=torch.float64).argsort(1)[:, :k]
    p = torch.zeros(m, n, dtype=torch.float64)
    p.scatter_(1, pos, torch.randn(m, k, generator=gen, dtype=torch.float64))
    return p, p @ curve_matrix(n).T


def _patches(f: torch.Tensor) -> torch.Tensor:
    """``(m, n, 3)`` rows ``(f_j, f_{j-1}, f_{j-2})`` with zeros before the start."""
    pad = torch.nn.functional.pad(f, (2, 0))
    return torch.stack((pad[:, 2:], pad[:, 1:-1], pad[:, :-2]), dim=-1)


def curvatures(n: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact population curvatures: ``E[f f^T] / n`` (fc, per output) and the conv 3 x 3."""
    w = curve_matrix(n)
    sigma_f = (k / n) * w @ w.T
    padded = torch.zeros(n + 2, n + 2, dtype=torch.float64)
    padded[2:, 2:] = sigma_f
    h_conv = torch.empty(3, 3, dtype=torch.float64)
    idx = torch.arange(n) + 2
    for a in range(3):
        for b in range(3):
            h_conv[a, b] = padded[idx - a, idx - b].sum() / n
    return sigma_f / n, h_conv


def condition(h: torch.Tensor) -> float:
    """``lambda_max / lambda_min`` of a symmetric positive definite matrix."""
    ev = torch.linalg.eigvalsh(h)
    return float(ev[-1] / ev[0])


def _modes(learner: str, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per eigen-direction of the curvature: the contraction ``1 - step * lambda`` of one
    gradient-descent step and the share of the initial (``U = 0``, ``u = 0``) error."""
    h_fc, h_conv = curvatures(n, k)
    if learner == "conv+conditioning":
        return np.array([1.0 - CONDITIONED_STEP]), np.array([1.0])
    lam, vec = torch.linalg.eigh(h_fc if learner == "fc" else h_conv)
    if learner == "fc":   # error of U - W^{-1} along eigenvector v: lam |W^{-1} v|^2
        share = lam * ((torch.linalg.inv(curve_matrix(n)) @ vec) ** 2).sum(0)
    else:                 # error of u - (1, -2, 1) along v: lam (v . (1, -2, 1))^2
        share = lam * (vec.T @ torch.tensor(KERNEL, dtype=torch.float64)) ** 2
    return (1.0 - lam / lam[-1]).numpy(), (share / share.sum()).numpy()


def population_gd_error(learner: str, n: int, k: int, steps) -> np.ndarray:
    """Relative error after ``steps`` iterations of gradient descent on the exact population
    loss, from zero, with the study's step sizes (closed form over the eigen-directions).

    .. math::

        e(t) = \\sum_i s_i (1 - \\eta \\lambda_i)^{2t}

    Args:
        learner: ``"fc"``, ``"conv"`` or ``"conv+conditioning"``.
        n: samples per curve.
        k: kinks per curve.
        steps: iteration counts (array-like of non-negative numbers).

    Returns:
        The relative errors ``E|p_hat - p|^2 / E|p|^2``, one per step.
    """
    return _gd_error(_modes(learner, n, k), steps)


def _gd_error(modes: tuple[np.ndarray, np.ndarray], steps) -> np.ndarray:
    rho, share = modes
    t = np.asarray(steps, dtype=np.float64)
    return (share[None, :] * np.abs(rho)[None, :] ** (2 * t[:, None])).sum(1)


def gd_iterations_to(learner: str, n: int, k: int, threshold: float) -> int:
    """Fewest gradient-descent iterations whose population error is ``<= threshold``."""
    modes = _modes(learner, n, k)
    lo, hi = 0, 1
    while _gd_error(modes, [hi])[0] > threshold:
        lo, hi = hi, hi * 2
        if hi > 2 ** 62:
            raise ValueError("gradient descent does not reach the threshold")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _gd_error(modes, [mid])[0] > threshold:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True)
class ConditioningConfig:
    """Configuration of the ``conditioning`` study (defaults after the paper)."""

    n: int = option(100, "samples per curve")
    k: int = option(3, "pieces (kinks) per curve")
    iterations: int = option(50000, "SGD iterations per learner (the measured budget)")
    batch_size: int = option(64, "fresh curves per SGD step")
    eval_every: int = option(1000, "iterations between test evaluations (plus a log grid)")
    n_test: int = option(1000, "test curves")
    error_threshold: float = option(0.05, "relative test error that counts as reached")
    condition_ns: tuple[int, ...] = option((10, 20, 40, 80, 160, 320),
                                           "n at which condition numbers are computed")
    seeds: int = option(1, "number of seeds")
    first_seed: int = option(0, "first seed")
    check_n: int = option(10, "a small n where SGD runs until every learner reaches the "
                                "threshold (0: skip)")
    check_iterations: int = option(40000, "SGD budget per learner at check_n")
    threads: int = option(1, "CPU threads while the study runs (tiny matmuls: 1 is fastest)")

    def __post_init__(self) -> None:
        name = "ConditioningConfig"
        validate_choices(self)
        check_int(self.n, "n", name, low=3, high=5000)
        check_int(self.k, "k", name, low=1, high=self.n)
        check_int(self.iterations, "iterations", name, low=1)
        check_int(self.batch_size, "batch_size", name, low=1)
        check_int(self.eval_every, "eval_every", name, low=1)
        check_int(self.n_test, "n_test", name, low=1)
        check_float(self.error_threshold, "error_threshold", name, low=0.0, high=1.0,
                    closed="neither")
        if not self.condition_ns or any(not isinstance(v, int) or v < 3 or v > 2000
                                        for v in self.condition_ns):
            raise param_error("condition_ns", name, "a list of ints in [3, 2000]",
                              self.condition_ns)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)
        check_int(self.threads, "threads", name, low=1, high=256)
        if self.check_n:
            check_int(self.check_n, "check_n", name, low=max(3, self.k), high=5000)
        check_int(self.check_iterations, "check_iterations", name, low=1)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


def _eval_steps(iterations: int, every: int) -> set[int]:
    grid = np.unique(np.round(np.logspace(0, np.log10(iterations), 40)).astype(int))
    return set(grid.tolist()) | set(range(every, iterations + 1, every)) | {iterations}


class _Weights(torch.nn.Module):
    """The linear learners' weights: ``U`` (fc, ``n x n``) and ``u`` (conv, 3 taps)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.U = torch.zeros(n, n, dtype=torch.float64)
        self.u = torch.zeros(3, dtype=torch.float64)


def _sgd(learner: str, cfg: ConditioningConfig, n: int, seed: int, iterations: int,
         task, stop: float | None = None) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """SGD on fresh curves from zero; returns evaluation steps, relative test errors and the
    predictions on the test curves (it stops early once the error is ``<= stop``)."""
    k, m = cfg.k, cfg.batch_size
    h_fc, h_conv = curvatures(n, k)
    lr_fc = 1.0 / float(torch.linalg.eigvalsh(h_fc)[-1])
    lr_conv = 1.0 / float(torch.linalg.eigvalsh(h_conv)[-1])
    precond = CONDITIONED_STEP * torch.linalg.inv(h_conv)
    p_test, f_test = piecewise_linear(cfg.n_test, n, k,
                                      torch.Generator().manual_seed(10_000 + seed))
    q_test = _patches(f_test)
    denom = float((p_test ** 2).sum())
    evals = _eval_steps(iterations, cfg.eval_every)
    w = _Weights(n)
    drawn: dict[str, torch.Tensor] = {}

    def predict() -> torch.Tensor:
        return f_test @ w.U.T if learner == "fc" else q_test @ w.u

    def curves(it: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        # the same training curves for every learner: CHUNK steps' worth drawn in one call
        if (it - 1) % CHUNK == 0:
            drawn["p"], drawn["f"] = piecewise_linear(min(CHUNK, iterations - it + 1) * m, n,
                                                      k, generator)
        lo = ((it - 1) % CHUNK) * m
        return drawn["p"][lo:lo + m], drawn["f"][lo:lo + m]

    def step_fn(model: _Weights, batch, optimizer) -> dict:
        p, f = batch
        if learner == "fc":
            model.U -= lr_fc / (m * n) * (f @ model.U.T - p).T @ f
        else:
            q = _patches(f)
            g = torch.einsum("mj,mja->a", q @ model.u - p, q) / (m * n)
            model.u -= precond @ g if learner == "conv+conditioning" else lr_conv * g
        return {}

    rows = [(0, 1.0)]

    def on_step(it: int, model: _Weights, logs: dict) -> bool:
        rows.append((it, float(((predict() - p_test) ** 2).sum()) / denom))
        task.advance(it - rows[-2][0])
        return stop is not None and rows[-1][1] <= stop

    res = fit(w, None, curves, optimizer=None, step_fn=step_fn, steps=iterations, seed=seed,
              schedule=evals, on_step=on_step)
    if res.stopped:
        task.advance(iterations - res.steps)
    steps, errs = np.array(rows).T
    return steps.astype(int), errs, predict()


def _first_hit(steps: np.ndarray, errs: np.ndarray, threshold: float) -> float:
    hit = np.nonzero(errs <= threshold)[0]
    return float(steps[hit[0]]) if len(hit) else float("nan")


def _train(cfg: ConditioningConfig, seed: int, ctx: StudyContext) -> None:
    """The three learners at ``cfg.n`` for ``cfg.iterations`` SGD steps."""
    rec = ctx.run
    positions = np.arange(cfg.n, dtype=float)
    for learner in LEARNERS:
        with ctx.task(f"conditioning: {learner}, n={cfg.n} (seed {seed})",
                      cfg.iterations) as task:
            steps, errs, pred = _sgd(learner, cfg, cfg.n, seed, cfg.iterations, task)
        rec.record(step=steps, lens="training", layer=learner, metric="relative_error",
                   value=errs, seed=seed)
        rec.record(step=int(steps[-1]), lens="summary", layer=learner,
                   metric="iterations_to_threshold",
                   value=_first_hit(steps, errs, cfg.error_threshold), seed=seed)
        rec.record(step=int(steps[-1]), lens="example", layer=learner, metric="p_hat",
                   value=pred[0].numpy(), seed=seed)
        rec.record(step=int(steps[-1]), lens="example", layer=learner, metric="position",
                   value=positions, seed=seed)
    p_test, _ = piecewise_linear(cfg.n_test, cfg.n, cfg.k,
                                 torch.Generator().manual_seed(10_000 + seed))
    rec.record(step=cfg.iterations, lens="example", layer="truth", metric="p_hat",
               value=p_test[0].numpy(), seed=seed)
    rec.record(step=cfg.iterations, lens="example", layer="truth", metric="position",
               value=positions, seed=seed)


def _check(cfg: ConditioningConfig, seed: int, ctx: StudyContext) -> None:
    """The three learners at the small ``cfg.check_n``, each until it reaches the threshold."""
    for learner in LEARNERS:
        with ctx.task(f"conditioning: {learner}, n={cfg.check_n} (seed {seed})",
                      cfg.check_iterations) as task:
            steps, errs, _ = _sgd(learner, cfg, cfg.check_n, seed, cfg.check_iterations,
                                  task, stop=cfg.error_threshold)
        ctx.run.record(step=steps, lens="training_check", layer=learner,
                       metric="relative_error", value=errs, seed=seed)
        ctx.run.record(step=int(steps[-1]), lens="summary_check", layer=learner,
                       metric="iterations_to_threshold",
                       value=_first_hit(steps, errs, cfg.error_threshold), seed=seed)


def run(config: ConditioningConfig, ctx: StudyContext) -> None:
    """Condition numbers against n, exact gradient-descent horizons, then SGD per seed."""
    _run(config, ctx)  # run_study sets the CPU threads from config.threads


def _exact(config: ConditioningConfig, ctx: StudyContext) -> None:
    rec, seed = ctx.run, config.first_seed
    for n in config.condition_ns:
        w = curve_matrix(n)
        h_fc, h_conv = curvatures(n, config.k)
        white = torch.linalg.cholesky(torch.linalg.inv(h_conv))
        for metric, value in (("cond_WtW", condition(w.T @ w)),
                              ("cond_fc", condition(h_fc)),
                              ("cond_conv", condition(h_conv)),
                              ("cond_conv_whitened", condition(white.T @ h_conv @ white))):
            rec.record(step=n, lens="conditioning", layer="", metric=metric, value=value,
                       seed=seed)
    grid = np.unique(np.round(np.logspace(0, GD_HORIZON, 20 * GD_HORIZON + 1)))
    grid = np.concatenate(([0.0], grid))
    for learner in LEARNERS:
        rec.record(step=grid.astype(np.int64), lens="population_gd", layer=learner,
                   metric="relative_error",
                   value=population_gd_error(learner, config.n, config.k, grid), seed=seed)
        for lens, n in (("summary", config.n), ("summary_check", config.check_n)):
            if n:
                rec.record(step=0, lens=lens, layer=learner,
                           metric="gd_iterations_to_threshold",
                           value=float(gd_iterations_to(learner, n, config.k,
                                                        config.error_threshold)),
                           seed=seed)


def _run(config: ConditioningConfig, ctx: StudyContext) -> None:
    state = dict(ctx.resume or {"done": []})
    if not state.get("measured"):
        _exact(config, ctx)
        state["measured"] = True
        ctx.checkpoint(state)
    for seed in config.seed_list():
        for part, work in (("main", _train), ("check", _check)):
            if [seed, part] in state["done"] or (part == "check" and not config.check_n):
                continue
            work(config, seed, ctx)
            state["done"] = [*state["done"], [seed, part]]
            ctx.checkpoint(state)


def summary_table(run) -> pd.DataFrame:
    """Per learner: iterations to the threshold (SGD within the budget and exact population
    gradient descent, at ``n`` and at the small ``check_n``) and the final SGD error."""
    df = run.measurements()
    cfg = run.config
    tr = df[(df.lens == "training")]
    last = tr[tr.step == tr.step.max()].groupby("layer")["value"].mean()
    thr = cfg.get("error_threshold")
    budget = int(tr.step.max()) if len(tr) else 0
    cols = {}
    for lens, n in (("summary", cfg.get("n")), ("summary_check", cfg.get("check_n"))):
        part = df[df.lens == lens]
        if not n or not len(part):
            continue
        for metric, label in (("iterations_to_threshold", "SGD"),
                              ("gd_iterations_to_threshold", "exact GD")):
            values = part[part.metric == metric].groupby("layer")["value"].mean()
            cols[f"n={n}: {label} iterations to error <= {thr}"] = values
    rows = []
    for name in LEARNERS:
        row = {"learner": name}
        row.update({col: float(values.get(name, float("nan"))) for col, values in cols.items()})
        row[f"n={cfg.get('n')}: SGD relative error after {budget}"] = float(
            last.get(name, float("nan")))
        rows.append(row)
    return pd.DataFrame(rows)


def figures(run) -> list:
    from deepscope.studies.conditioning.figures import conditioning_figures

    return conditioning_figures(run)


register(Study(
    name="conditioning",
    summary="Piecewise-linear curves: FC vs convolution vs convolution with conditioning; "
            "condition numbers against n (Shalev-Shwartz et al. 2017)",
    paper="Shalev-Shwartz, Shamir & Shammah 2017, arXiv 1703.07950",
    config_cls=ConditioningConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
