"""PAC-Bayes flatness (uniform and magnitude-aware) and minibatch gradient noise.

Papers: Dziugaite & Roy (2017), arXiv 1703.11008; Neyshabur, Bhojanapalli, McAllester &
Srebro (2017), arXiv 1706.08947; Jiang, Neyshabur, Mobahi, Krishnan & Bengio (2020),
"Fantastic generalization measures and where to find them", arXiv 1912.02178 (Algorithm 1
and the measures ``pacbayes.flatness``, ``pacbayes.mag.flatness``, ``grad.noise``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from deepscope.errors import check_choice, check_float, check_int, param_error
from deepscope.lenses._model import check_loss_fn, check_model
from deepscope.lenses.generalization._layers import _is_pair, as_batches
from deepscope.lenses.generalization.norms import _output_tensor
from deepscope.lenses.generalization.results import GradientNoise, PacBayesFlatness
from deepscope.seeding import make_generator

__all__ = ["gradient_noise", "pac_bayes_flatness"]

_SCALES = ("uniform", "magnitude")


class _Evaluator:
    """Mean loss over ``data`` of many parameter vectors at once (vmap, loop as fallback)."""

    def __init__(self, model: nn.Module, loss_fn: Callable, batches: list, func: str) -> None:
        self.model, self.loss_fn, self.func = model, loss_fn, func
        self.names = [n for n, p in model.named_parameters() if p.requires_grad]
        if not self.names:
            raise param_error("model", func, "a module with trainable parameters",
                              type(model).__name__)
        named = dict(model.named_parameters())
        self.fixed = {n: p.detach() for n, p in named.items() if n not in self.names}
        self.buffers = {n: b.clone() for n, b in model.named_buffers()}
        self.shapes = [named[n].shape for n in self.names]
        self.sizes = [named[n].numel() for n in self.names]
        self.theta = torch.cat([named[n].detach().reshape(-1) for n in self.names])
        dev = self.theta.device
        self.batches = [(x.to(dev), y.to(dev)) for x, y in batches]
        self.n = sum(int(x.shape[0]) for x, _ in self.batches)
        self.vmapped = True

    def _params(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        parts = torch.split(flat, self.sizes)
        return {n: t.reshape(s) for n, t, s in zip(self.names, parts, self.shapes)}

    def _loss(self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = {**self._params(flat), **self.fixed, **self.buffers}
        out = _output_tensor(functional_call(self.model, p, (x,), strict=False), self.func)
        return self.loss_fn(out, y)

    def losses(self, flats: torch.Tensor) -> torch.Tensor:
        """Mean loss over the data of each row of ``flats`` (``(k, P)``), as float64 ``(k,)``."""
        total = torch.zeros(flats.shape[0], dtype=torch.float64, device=flats.device)
        with torch.no_grad():
            for x, y in self.batches:
                total += self._batch(flats, x, y).double() * x.shape[0]
        return total / self.n

    def _batch(self, flats: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.vmapped:
            try:
                return vmap(self._loss, in_dims=(0, None, None))(flats, x, y)
            except Exception:  # noqa: BLE001 - ops without a batching rule: loop instead
                self.vmapped = False
        return torch.stack([self._loss(f, x, y) for f in flats])


def pac_bayes_flatness(model: nn.Module, loss_fn: Callable, data: Any, *,
                       target_increase: float = 0.1, scale: str = "uniform",
                       epsilon: float = 1e-3, n_draws: int = 8, repeats: int = 3,
                       steps: int = 20, chunk: int = 16,
                       seed: int | torch.Generator = 0) -> PacBayesFlatness:
    """Largest noise scale ``sigma'`` whose expected loss increase stays under a target.

    Jiang et al. (2020, Algorithm 1) find by bisection the largest ``sigma`` with

    .. math::
        \\mathbb E_{u}\\,[L(w + u)] \\le L(w) + \\Delta,
        \\qquad u \\sim \\mathcal N(0, \\sigma^2 I)\\ \\text{(uniform)},\\quad
        u_i \\sim \\mathcal N(0, \\alpha^2 w_i^2 + \\epsilon^2)\\ \\text{(magnitude)}

    and report ``1 / sigma'^2`` (``pacbayes.flatness``) or ``1 / alpha'^2``
    (``pacbayes.mag.flatness``). The expectation is a mean over ``n_draws`` seeded noise
    draws ``z_j ~ N(0, I)``, kept fixed through the bisection (common random numbers, so the
    bisection sees one function of ``sigma``); ``repeats`` independent sets of draws give
    ``repeats`` values of ``sigma'``, whose mean and standard deviation (the spread) are
    reported. Every probe of every repeat is evaluated in one batched forward pass per data
    batch (``torch.func.vmap`` over ``chunk`` parameter vectors at a time).

    For a quadratic loss with Hessian ``A`` at its minimum the answer is closed-form:
    ``sigma'^2 = 2 Delta / tr(A)`` in expectation.

    Args:
        model: Any module (evaluated in its current mode; buffers are cloned).
        loss_fn: ``loss_fn(outputs, targets)`` returning the mean loss of a batch (e.g.
            cross-entropy, or a 0-1 error for Jiang et al.'s accuracy criterion).
        data: An ``(inputs, targets)`` pair or an iterable of pairs (the training set).
        target_increase: ``Delta`` > 0.
        scale: ``"uniform"`` or ``"magnitude"``.
        epsilon: The noise floor of the magnitude-aware variant (Jiang et al.: 1e-3).
        n_draws: Noise draws per repeat.
        repeats: Independent repeats (the spread is their standard deviation).
        steps: Bisection steps after the upper bracket is found (relative precision 2^-steps).
        chunk: Parameter vectors evaluated together (memory: ``chunk`` copies of the model).
        seed: Seed (or generator) of the noise draws.

    Returns:
        :class:`PacBayesFlatness`.
    """
    func = "pac_bayes_flatness"
    check_model(model, func)
    check_loss_fn(loss_fn, func)
    delta = check_float(target_increase, "target_increase", func, low=0.0, closed="neither")
    check_choice(scale, "scale", func, _SCALES)
    eps = check_float(epsilon, "epsilon", func, low=0.0)
    n_draws = check_int(n_draws, "n_draws", func, low=1, high=100_000)
    repeats = check_int(repeats, "repeats", func, low=1, high=1000)
    steps = check_int(steps, "steps", func, low=1, high=200)
    chunk = check_int(chunk, "chunk", func, low=1, high=100_000)
    gen, seed_value = make_generator(seed, "seed", func)
    ev = _Evaluator(model, loss_fn, as_batches(data, func), func)
    theta = ev.theta
    base = float(ev.losses(theta[None])[0])
    draw_seeds = torch.randint(0, 2**62, (repeats, n_draws), generator=gen).tolist()
    mag = theta.abs().double() if scale == "magnitude" else None

    def noise(s: int, sigma: float) -> torch.Tensor:
        z = torch.randn(theta.numel(), generator=torch.Generator().manual_seed(s),
                        dtype=torch.float64).to(theta.device)
        if mag is None:
            return sigma * z
        return torch.sqrt(sigma ** 2 * mag ** 2 + eps ** 2) * z

    def increase(sigmas: list[float]) -> np.ndarray:
        """Mean loss increase of every repeat at its own sigma."""
        jobs = [(r, s) for r in range(repeats) for s in draw_seeds[r]]
        out = np.zeros(repeats)
        for i in range(0, len(jobs), chunk):
            part = jobs[i:i + chunk]
            flats = torch.stack([(theta.double() + noise(s, sigmas[r])).to(theta.dtype)
                                 for r, s in part])
            for (r, _), v in zip(part, ev.losses(flats).cpu().numpy()):
                out[r] += v / n_draws
        return out - base

    lo = np.zeros(repeats)
    hi = np.ones(repeats)
    bracketed = np.zeros(repeats, dtype=bool)
    for _ in range(40):  # expand the upper bracket: sigma up to 2^40
        inc = increase(hi.tolist())
        over = inc > delta
        bracketed |= over
        if bracketed.all():
            break
        lo = np.where(over, lo, hi)
        hi = np.where(over, hi, 2 * hi)
    for _ in range(steps):
        mid = (lo + hi) / 2
        ok = increase(mid.tolist()) <= delta
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    sig = np.where(bracketed, (lo + hi) / 2, hi)
    mean = float(sig.mean())
    return PacBayesFlatness(lens="generalization.pac_bayes_flatness", sigma=mean,
                            spread=float(sig.std(ddof=1)) if repeats > 1 else 0.0,
                            sigmas=sig, measure=1.0 / mean ** 2, base_loss=base,
                            target_increase=delta, scale=scale, epsilon=eps, n_draws=n_draws,
                            steps=steps, complete=bool(bracketed.all()), seed=seed_value)


def gradient_noise(model: nn.Module, loss_fn: Callable, data: Any, *,
                   batch_size: int = 32, max_batches: int | None = None,
                   seed: int | torch.Generator = 0) -> GradientNoise:
    """Variance of minibatch gradients at the current weights (Jiang et al.'s ``grad.noise``).

    .. math::
        \\mathrm{Var} = \\frac1B \\sum_{b=1}^B \\| g_b - \\bar g \\|^2,
        \\qquad g_b = \\nabla_w L_b(w),\\ \\bar g = \\frac1B \\sum_b g_b

    Gradients are taken with ``torch.func.grad`` on detached parameters (the model's ``.grad``
    is never written), in float64 accumulation.

    Args:
        model: Any module (evaluated in its current mode; buffers are cloned).
        loss_fn: ``loss_fn(outputs, targets)`` returning the mean loss of a batch.
        data: An ``(inputs, targets)`` pair, split into seeded minibatches of ``batch_size``
            (the remainder dropped), or an iterable of batches used as given.
        batch_size: Minibatch size for a pair.
        max_batches: Use at most this many minibatches (``None``: all).
        seed: Seed (or generator) of the minibatch order of a pair.

    Returns:
        :class:`GradientNoise` (``to_frame``: one row per parameter tensor).
    """
    func = "gradient_noise"
    check_model(model, func)
    check_loss_fn(loss_fn, func)
    bs = check_int(batch_size, "batch_size", func, low=1)
    if max_batches is not None:
        check_int(max_batches, "max_batches", func, low=2)
    if _is_pair(data):
        gen, seed_value = make_generator(seed, "seed", func)
        x, y = data
        perm = torch.randperm(x.shape[0], generator=gen).to(x.device)
        nb = x.shape[0] // bs
        batches = [(x[perm[i * bs:(i + 1) * bs]], y[perm[i * bs:(i + 1) * bs]])
                   for i in range(nb)]
        used_bs: int | None = bs
    else:
        batches, used_bs, seed_value = as_batches(data, func), None, None
    if max_batches is not None:
        batches = batches[:max_batches]
    if len(batches) < 2:
        raise param_error("data", func, "at least 2 minibatches (lower batch_size)",
                          f"{len(batches)} minibatch(es)")
    ev = _Evaluator(model, loss_fn, batches, func)
    g_fn = grad(ev._loss)
    mean = torch.zeros_like(ev.theta, dtype=torch.float64)
    sq = torch.zeros_like(mean)
    for x, y in ev.batches:
        g = g_fn(ev.theta, x, y).double()
        mean += g
        sq += g * g
    b = len(ev.batches)
    mean /= b
    var_el = sq / b - mean * mean
    layer_var = np.array([float(t.sum()) for t in torch.split(var_el, ev.sizes)])
    return GradientNoise(lens="generalization.gradient_noise", variance=float(var_el.sum()),
                         mean_norm_sq=float(mean.pow(2).sum()), layers=tuple(ev.names),
                         layer_variance=np.maximum(layer_var, 0.0), n_batches=b,
                         batch_size=used_bs, seed=seed_value)
