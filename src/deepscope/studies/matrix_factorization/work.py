"""Measurements, the two reference solutions and the factorised gradient descent of the
``matrix-factorization`` study (Gunasekar et al. 2017)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["Problem", "Factorised", "GDEngine", "min_frobenius", "min_nuclear", "nuclear",
           "problem"]


@dataclass(frozen=True)
class Problem:
    """``y_i = <A_i, X*>`` with symmetric Gaussian ``A_i`` and ``X* = u u^T``.

    Attributes:
        a: The measurements as rows of vec(A_i), ``(m, n^2)`` float64.
        y: ``(m,)`` observations.
        x_star: ``(n, n)`` ground truth.
    """

    a: np.ndarray
    y: np.ndarray
    x_star: np.ndarray

    @property
    def n(self) -> int:  # noqa: D102
        return self.x_star.shape[0]

    def rel_error(self, x: np.ndarray, ref: np.ndarray | None = None) -> float:
        """``||X - ref||_F / ||ref||_F`` (``ref`` defaults to ``X*``)."""
        ref = self.x_star if ref is None else ref
        return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))

    def residual(self, x: np.ndarray) -> float:
        """Relative measurement residual ``||A(X) - y|| / ||y||``."""
        return float(np.linalg.norm(self.a @ x.ravel() - self.y) / np.linalg.norm(self.y))


def problem(n: int, m: int, seed: int) -> Problem:
    """A seeded instance: ``u ~ N(0, I_n)``, ``A_i = (G_i + G_i^T) / 2`` with ``G_i`` iid N(0, 1)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=n)
    g = rng.normal(size=(m, n, n))
    a = ((g + g.transpose(0, 2, 1)) / 2).reshape(m, n * n)
    x_star = np.outer(u, u)
    return Problem(a=a, y=a @ x_star.ravel(), x_star=x_star)


def nuclear(x: np.ndarray) -> float:
    """Nuclear norm of a symmetric matrix (sum of |eigenvalues|)."""
    return float(np.abs(np.linalg.eigvalsh((x + x.T) / 2)).sum())


def min_frobenius(p: Problem) -> np.ndarray:
    """The minimum-Frobenius-norm interpolant ``A^T (A A^T)^{-1} y`` (symmetric: each A_i is)."""
    return (p.a.T @ np.linalg.solve(p.a @ p.a.T, p.y)).reshape(p.n, p.n)


def min_nuclear(p: Problem, *, rho: float = 1.0, max_iter: int = 20_000, tol: float = 1e-10
                ) -> tuple[np.ndarray, int]:
    """``argmin ||X||_*`` subject to ``A(X) = y`` over symmetric ``X``, by ADMM.

    Splits ``X = Z``: the ``X`` step projects onto the affine set ``{A(X) = y}`` (with the
    pseudo-inverse of ``A``), the ``Z`` step soft-thresholds the eigenvalues (the proximal map
    of the nuclear norm on symmetric matrices), then the scaled dual ``W += X - Z``. Stops when
    both the primal gap ``||X - Z||`` and the change of ``Z`` are below ``tol ||y||``-scale.

    Returns:
        ``(X, iterations)``: the solution (the ``Z`` iterate projected onto the constraints)
        and the number of iterations.
    """
    n = p.n
    gram = np.linalg.inv(p.a @ p.a.T)

    def project(v: np.ndarray) -> np.ndarray:
        flat = v.ravel()
        return (flat - p.a.T @ (gram @ (p.a @ flat - p.y))).reshape(n, n)

    z = min_frobenius(p)
    w = np.zeros((n, n))
    scale = max(1.0, float(np.linalg.norm(z)))
    it = 0
    for it in range(1, max_iter + 1):
        x = project(z - w)
        v = x + w
        vals, vecs = np.linalg.eigh((v + v.T) / 2)
        vals = np.sign(vals) * np.maximum(np.abs(vals) - 1.0 / rho, 0.0)
        z_new = (vecs * vals) @ vecs.T
        w += x - z_new
        done = (np.linalg.norm(x - z_new) < tol * scale
                and np.linalg.norm(z_new - z) < tol * scale)
        z = z_new
        if done:
            break
    return project(z), it


class Factorised(nn.Module):
    """``X = U U^T`` with ``U_0 = alpha I`` (float64)."""

    def __init__(self, n: int, alpha: float) -> None:
        super().__init__()
        self.u = nn.Parameter(alpha * torch.eye(n, dtype=torch.float64))

    def matrix(self) -> np.ndarray:
        """``U U^T`` as a numpy array."""
        u = self.u.detach().numpy()
        return u @ u.T

    def forward(self, a: torch.Tensor) -> torch.Tensor:  # noqa: D102 - A(U U^T)
        return a @ (self.u @ self.u.T).reshape(-1)


class GDEngine:
    """``fit`` step_fn: ``inner`` steps of full-batch GD on ``(1/2m) sum_i (<A_i, UU^T> - y_i)^2``.

    The gradient is written out, ``(2/m) S U`` with ``S = sum_i r_i A_i`` (each ``A_i``
    symmetric), so a step is two products with the measurement matrix and one ``n x n``
    product, in numpy.
    """

    def __init__(self, p: Problem, lr: float, inner: int) -> None:
        self.p, self.lr, self.inner = p, lr, inner

    def __call__(self, model: Factorised, batch, optimizer) -> dict:  # noqa: D102
        a, y, n = self.p.a, self.p.y, self.p.n
        m = a.shape[0]
        u = model.u.detach().numpy().copy()
        c = self.lr * 2.0 / m
        r = None
        for _ in range(self.inner):
            r = a @ (u @ u.T).ravel() - y
            u -= c * ((a.T @ r).reshape(n, n) @ u)
        with torch.no_grad():
            model.u.copy_(torch.from_numpy(u))
        return {"loss": float(r @ r) / (2 * m)}
