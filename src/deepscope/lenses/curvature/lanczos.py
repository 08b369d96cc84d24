"""Krylov and randomised linear algebra on a symmetric operator given by its products.

Private module of :mod:`deepscope.lenses.curvature`; everything here works on any
``matvec`` / ``matmat`` callable over flat vectors, so it is tested on explicit matrices
too. Projected problems are solved in float64; vectors stay in the operator's dtype.

* :func:`lanczos_eigs`: extreme eigenpairs by Lanczos with full reorthogonalisation and
  thick restarts (Wu & Simon 2000, SIAM J. Matrix Anal. Appl. 22(2); Stewart 2001,
  Krylov-Schur), residuals computed from stored products.
* :func:`slq_run`: one stochastic Lanczos quadrature run (Golub & Meurant 1994; Ubaru,
  Chen & Saad 2017; Ghorbani, Krishnan & Xiao 2019, arXiv 1901.10159).
* :func:`hutchinson`, :func:`hutch_pp`: trace estimates with Rademacher probes (Hutchinson
  1989; Meyer, Musco, Musco & Woodruff 2021, arXiv 2010.09649) that stop at a requested
  relative standard error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["EigsOut", "TraceOut", "hutch_pp", "hutchinson", "lanczos_eigs", "slq_run"]

Matvec = Callable[[torch.Tensor], torch.Tensor]


def _orth_against(w: torch.Tensor, basis: torch.Tensor | None) -> torch.Tensor:
    """``w`` minus its projection on the rows of ``basis`` (classical Gram-Schmidt twice)."""
    if basis is None or basis.shape[0] == 0:
        return w
    for _ in range(2):
        w = w - basis.T @ (basis @ w)
    return w


def _random_unit(n: int, generator: torch.Generator, like: torch.Tensor,
                 basis: torch.Tensor | None, rademacher: bool = False) -> torch.Tensor:
    """A random unit vector (drawn on the CPU, so seeds agree across devices)."""
    for _ in range(10):
        if rademacher:
            z = torch.randint(0, 2, (n,), generator=generator, dtype=torch.float64) * 2 - 1
        else:
            z = torch.randn(n, generator=generator, dtype=torch.float64)
        w = _orth_against(z.to(device=like.device, dtype=like.dtype), basis)
        norm = torch.linalg.vector_norm(w)
        if norm > 1e-6 * math.sqrt(n):
            return w / norm
    raise ArithmeticError("could not draw a vector outside the current basis")


@dataclass
class EigsOut:
    values: torch.Tensor  # (k,) float64, largest first
    vectors: torch.Tensor  # (k, P)
    residuals: torch.Tensor  # (k,) float64, ||H v - lambda v||
    converged: torch.Tensor  # (k,) bool
    n_products: int


def _wanted(theta: torch.Tensor, k: int, which: str) -> torch.Tensor:
    """Indices into ascending ``theta`` of the wanted Ritz values."""
    m = theta.shape[0]
    top = torch.arange(m - 1, max(m - 1 - k, -1), -1)
    low = torch.arange(0, min(k, m))
    if which == "largest":
        return top
    if which == "smallest":
        return low
    return torch.unique(torch.cat([top, low]))


def lanczos_eigs(matvec: Matvec, n: int, *, k: int, which: str, tol: float, max_iter: int,
                 max_basis: int, generator: torch.Generator, like: torch.Tensor) -> EigsOut:
    """Extreme eigenpairs of a symmetric operator.

    The basis V (orthonormal rows) and the products ``HV`` are stored; the projected
    matrix ``T = V HV^T`` gives Ritz pairs whose residuals ``||H y - theta y||`` follow
    exactly from the stored products, without extra products. A pair is converged when
    its residual is at most ``tol * max|theta|``. When the basis reaches ``max_basis`` it is
    restarted with the wanted Ritz vectors (plus a few more) and the next Krylov direction;
    when the Krylov space becomes invariant, a fresh random vector continues it.
    """
    n_want = k if which != "both" else 2 * k
    basis = _random_unit(n, generator, like, None)[None]
    products = torch.empty(0, n, device=like.device, dtype=like.dtype)
    count = 0
    best = None
    while True:
        hv = matvec(basis[-1])
        count += 1
        products = torch.cat([products, hv[None]])
        t = (basis.double() @ products.double().T)
        t = (t + t.T) / 2
        theta, s = torch.linalg.eigh(t)
        idx = _wanted(theta, k, which)
        scale = float(theta.abs().max()) or 1.0
        sel = s[:, idx].to(like.dtype)
        y = sel.T @ basis
        hy = sel.T @ products
        res = torch.linalg.vector_norm((hy - theta[idx].to(like.dtype)[:, None] * y).double(),
                                       dim=1)
        conv = res <= tol * scale
        best = (theta[idx], y, res, conv)
        if (idx.numel() == n_want and bool(conv.all())) or count >= max_iter:
            break
        w = _orth_against(hv, basis)
        norm = torch.linalg.vector_norm(w)
        if basis.shape[0] >= n:
            break
        if norm <= 1e-8 * scale * (1 if like.dtype == torch.float64 else 1e4):
            w = _random_unit(n, generator, like, basis)  # invariant subspace: continue
        else:
            w = w / norm
        if basis.shape[0] >= max_basis:  # thick restart: wanted pairs + a few extra
            keep = _wanted(theta, min(k + max(k, 5), theta.shape[0]), which)
            sk = s[:, keep].to(like.dtype)
            basis, products = sk.T @ basis, sk.T @ products
            w = _orth_against(w, basis)
            w = w / torch.linalg.vector_norm(w)
        basis = torch.cat([basis, w[None]])
    values, vectors, res, conv = best
    order = torch.argsort(values, descending=True)
    return EigsOut(values[order], vectors[order], res[order], conv[order], count)


def slq_run(matvec: Matvec, n: int, n_iter: int, generator: torch.Generator,
            like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One Lanczos run from a normalised Rademacher vector: quadrature nodes and weights.

    ``T = Q^T H Q`` (tridiagonal, ``n_iter`` steps, full reorthogonalisation); nodes are
    the eigenvalues of T and weights the squared first components of its eigenvectors, so
    ``sum_i w_i f(node_i) ~ v^T f(H) v``. Stops early (fewer nodes) when the Krylov space
    becomes invariant: the quadrature is then exact.
    """
    q = _random_unit(n, generator, like, None, rademacher=True)
    basis = q[None]
    alphas: list[float] = []
    betas: list[float] = []
    scale = 0.0
    for j in range(n_iter):
        w = matvec(basis[-1])
        alpha = float(basis[-1] @ w)
        alphas.append(alpha)
        w = _orth_against(w, basis)
        beta = float(torch.linalg.vector_norm(w))
        scale = max(scale, abs(alpha), beta)
        if j == n_iter - 1 or beta <= scale * (1e-10 if like.dtype == torch.float64 else 1e-5):
            break
        betas.append(beta)
        basis = torch.cat([basis, (w / beta)[None]])
    m = len(alphas)
    t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if m > 1:
        off = torch.tensor(betas, dtype=torch.float64)
        t = t + torch.diag(off, 1) + torch.diag(off, -1)
    nodes, vecs = torch.linalg.eigh(t)
    return nodes, vecs[0] ** 2, m


@dataclass
class TraceOut:
    estimate: float
    stderr: float
    n_products: int
    n_samples: int
    sketch_trace: float
    converged: bool


def _rademacher(n: int, k: int, generator: torch.Generator, like: torch.Tensor
                ) -> torch.Tensor:
    z = torch.randint(0, 2, (k, n), generator=generator, dtype=torch.float64) * 2 - 1
    return z.to(device=like.device, dtype=like.dtype)


def _sample_until(quad: Callable[[torch.Tensor], torch.Tensor], n: int, offset: float,
                  rtol: float, budget: int, block: int, min_samples: int,
                  generator: torch.Generator, like: torch.Tensor) -> tuple[list[float], bool]:
    """Draw Rademacher quadratic forms in blocks until ``stderr <= rtol |offset + mean|``."""
    samples: list[float] = []
    while len(samples) < budget:
        take = min(block, budget - len(samples))
        samples.extend(quad(_rademacher(n, take, generator, like)).double().tolist())
        if len(samples) >= min_samples:
            est, err = _mean_err(samples)
            if err <= rtol * abs(offset + est):
                return samples, True
    return samples, False


def _mean_err(samples: list[float]) -> tuple[float, float]:
    x = torch.tensor(samples, dtype=torch.float64)
    if x.numel() < 2:
        return float(x.mean()), math.inf
    return float(x.mean()), float(x.std(unbiased=True) / math.sqrt(x.numel()))


def hutchinson(matmat: Matvec, n: int, *, rtol: float, max_products: int, block: int,
               min_samples: int, generator: torch.Generator, like: torch.Tensor) -> TraceOut:
    """Hutchinson's estimator: the mean of ``z^T H z`` over Rademacher probes z."""
    samples, ok = _sample_until(lambda z: (z * matmat(z)).sum(1), n, 0.0, rtol, max_products,
                                block, min_samples, generator, like)
    est, err = _mean_err(samples)
    return TraceOut(est, err, len(samples), len(samples), 0.0, ok)


def hutch_pp(matmat: Matvec, n: int, *, sketch: int, rtol: float, max_products: int,
             block: int, min_samples: int, generator: torch.Generator, like: torch.Tensor
             ) -> TraceOut:
    """Hutch++: exact trace on a sketched top subspace plus Hutchinson on the rest.

    .. math:: \\operatorname{tr} H = \\operatorname{tr}(Q^\\top H Q)
              + \\operatorname{tr}\\big((I - QQ^\\top) H (I - QQ^\\top)\\big)

    with Q an orthonormal basis of ``H S`` for ``sketch`` Rademacher columns S (Meyer et
    al. 2021). The first term costs ``2 * sketch`` products and is exact given Q; the second
    is estimated with deflated Rademacher probes until its standard error is at most
    ``rtol`` times the whole estimate (the stopping rule of adaptive variants, e.g. Persson,
    Cortinovis & Kressner 2022, arXiv 2109.10659). The reported standard error is that of
    the second term given Q.
    """
    sketch = min(sketch, n)
    hs = matmat(_rademacher(n, sketch, generator, like))
    q = torch.linalg.qr(hs.double().T).Q.T.to(like.dtype)  # (sketch, n) orthonormal rows
    t_top = float((q.double() * matmat(q).double()).sum())
    used = 2 * sketch
    if sketch == n:
        return TraceOut(t_top, 0.0, used, 0, t_top, True)

    def quad(z: torch.Tensor) -> torch.Tensor:
        z = z - (z @ q.T) @ q
        return (z * matmat(z)).sum(1)

    samples, ok = _sample_until(quad, n, t_top, rtol, max(max_products - used, 2), block,
                                min_samples, generator, like)
    est, err = _mean_err(samples)
    return TraceOut(t_top + est, err, used + len(samples), len(samples), t_top, ok)
