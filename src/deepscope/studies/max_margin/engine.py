"""Closed-form-gradient engines for the summed logistic loss of a linear model (or a two-layer
linear network) on a small data set: many thousands of full-batch steps per call.

The loss is ``L(w) = sum_n log(1 + exp(-y_n w^T x_n))`` and its gradient
``-sum_n sigmoid(-y_n w^T x_n) y_n x_n`` is written out, so no autograd graph is built. The
loops are compiled with numba when it is installed (extra ``fast``; about 0.5 us per step
for 24 points in 2-D); without it the same loops run in Python (some 40x slower).

Each engine is a ``step_fn`` for :func:`deepscope.train.fit`: one ``fit`` step advances the
iterate to the next step count of a logarithmic grid (:attr:`Engine.grid`), so ``fit``'s
``on_step`` sees the model at ``t = grid[k]`` gradient steps.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["ENGINES", "Engine", "LinearModel", "TwoLayerLinear", "compiled"]

_COMPILED: dict | None = None


def _descent(a, w, g):  # pragma: no cover - compiled
    """``g = -grad L(w) = sum_n sigmoid(-a_n . w) a_n`` for the rows ``a_n = y_n x_n``."""
    rows, d = a.shape
    g[:] = 0.0
    for i in range(rows):
        m = 0.0
        for j in range(d):
            m += a[i, j] * w[j]
        s = 1.0 / (1.0 + math.exp(m))
        for j in range(d):
            g[j] += s * a[i, j]


def _loops(descent) -> dict:
    """The four update loops around one descent-direction kernel (compiled or not)."""

    def gd(a, w, lr, n):  # pragma: no cover - compiled
        g = np.empty(a.shape[1])
        for _ in range(n):
            descent(a, w, g)
            for j in range(w.shape[0]):
                w[j] += lr * g[j]

    def momentum(a, w, v, lr, mu, n):  # pragma: no cover - compiled
        g = np.empty(a.shape[1])
        for _ in range(n):
            descent(a, w, g)
            for j in range(w.shape[0]):
                v[j] = mu * v[j] + lr * g[j]
                w[j] += v[j]

    def adam(a, w, m1, m2, t0, lr, b1, b2, eps, n):  # pragma: no cover - compiled
        g = np.empty(a.shape[1])
        for k in range(n):
            descent(a, w, g)   # the gradient is -g
            t = t0 + k + 1
            c1 = 1.0 - b1 ** t
            c2 = 1.0 - b2 ** t
            for j in range(w.shape[0]):
                m1[j] = b1 * m1[j] - (1.0 - b1) * g[j]
                m2[j] = b2 * m2[j] + (1.0 - b2) * g[j] * g[j]
                w[j] -= lr * (m1[j] / c1) / (math.sqrt(m2[j] / c2) + eps)

    def two_layer(a, w1, w2, lr, n):  # pragma: no cover - compiled
        d, k = a.shape[1], w2.shape[0]
        u = np.empty(d)
        g = np.empty(d)
        for _ in range(n):
            for j in range(d):
                u[j] = 0.0
                for h in range(k):
                    u[j] += w1[h, j] * w2[h]
            descent(a, u, g)
            # descent direction -grad: W1 += lr w2 g^T, w2 += lr W1 g (simultaneous)
            for h in range(k):
                dw2 = 0.0
                for j in range(d):
                    dw2 += w1[h, j] * g[j]
                for j in range(d):
                    w1[h, j] += lr * w2[h] * g[j]
                w2[h] += lr * dw2

    return {"gd": gd, "momentum": momentum, "adam": adam, "two-layer": two_layer}


def compiled() -> dict:
    """The four loops, compiled with numba when available (else the Python functions)."""
    global _COMPILED
    if _COMPILED is None:
        try:
            import numba
        except ImportError:
            _COMPILED = _loops(_descent)
        else:
            jit = numba.njit(cache=False)
            _COMPILED = {k: jit(f) for k, f in _loops(jit(_descent)).items()}
    return _COMPILED


class LinearModel(nn.Module):
    """``f(x) = w^T x`` (no bias), ``w`` starting at zero."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(d, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x @ self.w

    def direction(self) -> np.ndarray:
        """The linear predictor ``w``."""
        return self.w.detach().numpy().copy()


class TwoLayerLinear(nn.Module):
    """``f(x) = w_2^T W_1 x`` with a small seeded initialisation (zero is a saddle)."""

    def __init__(self, d: int, width: int, scale: float, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = nn.Parameter(scale * torch.randn(width, d, generator=g, dtype=torch.float64))
        self.w2 = nn.Parameter(scale * torch.randn(width, generator=g, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x @ (self.w1.T @ self.w2)

    def direction(self) -> np.ndarray:
        """The end-to-end linear predictor ``W_1^T w_2``."""
        return (self.w1.detach().T @ self.w2.detach()).numpy().copy()


class Engine:
    """A ``step_fn`` for :func:`deepscope.train.fit` that runs closed-form GD between grid points.

    Args:
        variant: ``"gd"``, ``"momentum"``, ``"adam"`` or ``"two-layer"``.
        a: ``y_n x_n`` as rows, float64 ``(N, d)``.
        grid: Increasing step counts; fit step ``k`` ends at ``grid[k - 1]`` GD steps.
        lr: Step size.
        momentum: Heavy-ball coefficient (``"momentum"``).
        betas: Adam's ``(beta_1, beta_2)``; ``eps`` its epsilon.
    """

    def __init__(self, variant: str, a: np.ndarray, grid: np.ndarray, lr: float, *,
                 momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.variant, self.a, self.grid, self.lr = variant, np.ascontiguousarray(a), grid, lr
        self.momentum, self.betas, self.eps = momentum, betas, eps
        d = a.shape[1]
        self.v = np.zeros(d)
        self.m1, self.m2 = np.zeros(d), np.zeros(d)
        self.t = 0
        self.kernel = compiled()[variant]

    def __call__(self, model: nn.Module, batch, optimizer) -> dict:
        """Advance ``model`` to the next grid point; log the GD step count and the loss."""
        target = int(self.grid[min(self._k(), len(self.grid) - 1)])
        n = target - self.t
        if self.variant == "two-layer":
            w1 = model.w1.detach().numpy().copy()
            w2 = model.w2.detach().numpy().copy()
            self.kernel(self.a, w1, w2, self.lr, n)
            with torch.no_grad():
                model.w1.copy_(torch.from_numpy(w1))
                model.w2.copy_(torch.from_numpy(w2))
        else:
            w = model.w.detach().numpy().copy()
            if self.variant == "gd":
                self.kernel(self.a, w, self.lr, n)
            elif self.variant == "momentum":
                self.kernel(self.a, w, self.v, self.lr, self.momentum, n)
            else:
                self.kernel(self.a, w, self.m1, self.m2, self.t, self.lr, self.betas[0],
                            self.betas[1], self.eps, n)
            with torch.no_grad():
                model.w.copy_(torch.from_numpy(w))
        self.t = target
        return {"t": float(target), "loss": loss(self.a, model.direction())}

    def _k(self) -> int:
        return int(np.searchsorted(self.grid, self.t, side="right"))


ENGINES = ("gd", "momentum", "adam", "two-layer")


def loss(a: np.ndarray, w: np.ndarray) -> float:
    """Summed logistic loss ``sum_n log(1 + exp(-a_n^T w))`` (stable for large margins)."""
    m = a @ w
    return float(np.sum(np.logaddexp(0.0, -m)))
