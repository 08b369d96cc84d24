"""Epsilon-sharpness (Keskar et al. 2017): the worst loss in a box around the parameters."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.func import grad_and_value

from deepscope.lenses._model import functional

BOXES = ("relative", "absolute")
METHODS = ("pga", "lbfgsb")


class Objective:
    """Mean loss over all batches at ``params + y`` and its gradient, purely functional."""

    def __init__(self, model: nn.Module, loss_fn: Callable, data: list) -> None:
        self.model, self.loss_fn, self.data = model, loss_fn, data
        self.buffers = OrderedDict((n, b.detach().clone()) for n, b in model.named_buffers())
        self.n = sum(n for _, _, n in data)
        self.calls = 0

    def __call__(self, p: dict[str, torch.Tensor]) -> tuple[float, dict[str, torch.Tensor]]:
        self.calls += 1
        total, grads = 0.0, None
        for x, y, n in self.data:
            bufs = {k: v.clone() for k, v in self.buffers.items()}

            def f(q, b, x=x, y=y):
                return self.loss_fn(functional(self.model, (q, b), x), y)

            g, v = grad_and_value(f)(p, bufs)
            w = n / self.n
            total += float(v) * w
            if grads is None:
                grads = {k: t * w for k, t in g.items()}
            else:
                for k, t in g.items():
                    grads[k] += t * w
        return total, grads


def radius(params: dict[str, torch.Tensor], epsilon: float, box: str
           ) -> dict[str, torch.Tensor]:
    """Half-width of the box per parameter: ``eps (|w| + 1)`` or ``eps``."""
    if box == "relative":
        return {k: epsilon * (w.abs() + 1.0) for k, w in params.items()}
    return {k: torch.full_like(w, epsilon) for k, w in params.items()}


def _signs(g: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    s = torch.sign(g)
    return torch.where(s == 0, fallback, s)


def pga(obj: Objective, params: dict, r: dict, steps: int, gen: torch.Generator
        ) -> tuple[float, list[float]]:
    """Projected sign-gradient ascent from the centre, step ``r / 4``; best loss and trace.

    Where a gradient component is exactly 0 (e.g. at an exact minimum) a fixed random sign
    (from ``gen``) is used, so the ascent leaves flat directions.
    """
    fallback = {k: (torch.randint(0, 2, w.shape, generator=gen) * 2 - 1).to(w)
                for k, w in params.items()}
    y = {k: torch.zeros_like(w) for k, w in params.items()}
    trace = []
    for _ in range(steps):
        val, g = obj({k: params[k] + y[k] for k in params})
        trace.append(val)
        for k in y:
            step = 0.25 * r[k] * _signs(g[k], fallback[k])
            y[k] = torch.maximum(torch.minimum(y[k] + step, r[k]), -r[k])
    val, _ = obj({k: params[k] + y[k] for k in params})
    trace.append(val)
    return max(trace), trace


def lbfgsb(obj: Objective, params: dict, r: dict, steps: int, gen: torch.Generator
           ) -> tuple[float, list[float]]:
    """scipy L-BFGS-B on ``-loss`` inside the box, from a seeded random point (as Keskar)."""
    from scipy.optimize import minimize

    names = list(params)
    shapes = [params[k].shape for k in names]
    sizes = [params[k].numel() for k in names]
    ref = params[names[0]]
    rad = torch.cat([r[k].reshape(-1) for k in names]).double().cpu().numpy()
    x0 = (torch.rand(int(rad.size), generator=gen, dtype=torch.float64).numpy() * 2 - 1) * rad
    trace: list[float] = []

    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        flat = torch.as_tensor(v, dtype=ref.dtype, device=ref.device)
        parts = torch.split(flat, sizes)
        y = {k: part.reshape(s) for k, part, s in zip(names, parts, shapes)}
        val, g = obj({k: params[k] + y[k] for k in names})
        trace.append(val)
        gv = torch.cat([g[k].reshape(-1) for k in names]).double().cpu().numpy()
        return -val, -gv

    minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=list(zip(-rad, rad)),
             options={"maxiter": steps})
    return max(trace), trace
