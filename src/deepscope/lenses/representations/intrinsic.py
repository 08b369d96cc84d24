"""Intrinsic dimension of a representation from nearest-neighbour distance ratios.

* ``twonn`` (Facco, d'Errico, Rodriguez & Laio 2017, Sci. Rep. 7, 12140): with ``r_1, r_2``
  the distances of a point to its two nearest neighbours, :math:`\\mu = r_2 / r_1` is Pareto,
  :math:`P(\\mu > m) = m^{-d}`. ``d`` is the slope through the origin of
  :math:`-\\log(1 - F(\\mu))` against :math:`\\log \\mu`, fitted on the smallest
  ``1 - discard_fraction`` of the sorted ratios with :math:`F(\\mu_{(i)}) = i / n`.
* ``mle`` (Levina & Bickel 2004, with MacKay & Ghahramani's pooling): per point
  :math:`\\hat m_i^{-1} = \\frac{1}{k-1}\\sum_{j<k} \\log(T_k / T_j)` over its ``k``
  nearest distances; :math:`\\hat d = 1 / \\overline{\\hat m^{-1}}`.
* ``gride`` (Denti, Doimo, Laio & Mira 2022, Sci. Rep. 12, 20005): the maximum-likelihood
  ``d`` of the ratios :math:`\\mu = T_{2k} / T_k`, whose density is
  :math:`d(\\mu^d - 1)^{k-1} \\mu^{-(2k-1)d - 1} / B(k, k)`; ``k = 1`` is TwoNN's MLE,
  larger ``k`` looks at a coarser scale and is less sensitive to noise.

Ansuini, Laio, Macke & Zoccolan 2019 (arXiv 1905.12784) use TwoNN on every layer.

**Duplicates.** Identical rows make ``r_1 = 0`` and every ratio above undefined (the failure
reported for DADApy, issue 8). Exact duplicate rows are merged before anything else; the
result records how many were dropped. Near-duplicates are fine: the neighbours are chosen with
one distance GEMM and their distances recomputed exactly from the differences.

**Interval.** A bootstrap over points: the per-point statistics (ratios, or log-ratio means)
are resampled with replacement ``n_bootstrap`` times and the estimate refitted; the interval
is the percentile interval at ``confidence``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepscope.errors import check_choice, check_float, check_int, param_error
from deepscope.lenses.representations._checks import as_matrix
from deepscope.seeding import make_generator

__all__ = ["IntrinsicDimension", "intrinsic_dimension", "neighbor_distances"]

METHODS = ("twonn", "mle", "gride")
_DEFAULT_K = {"twonn": 2, "mle": 20, "gride": 4}


@dataclass(frozen=True)
class IntrinsicDimension:
    """An intrinsic-dimension estimate.

    Attributes:
        lens: ``"representations.intrinsic_dimension"``.
        dimension: The estimate.
        interval: Bootstrap percentile interval ``(low, high)`` (NaNs with ``n_bootstrap=0``).
        method: ``"twonn"``, ``"mle"`` or ``"gride"``.
        k: Neighbourhood size (``mle``: neighbours; ``gride``: the scale ``n1``; ``twonn``: 2).
        n: Rows given.
        n_unique: Rows left after merging exact duplicates.
        discard_fraction: Share of the largest ratios left out of the TwoNN fit.
        n_bootstrap: Bootstrap resamples.
        confidence: Level of the interval.
        seed: The seed of the bootstrap (None when a generator was passed).
    """

    lens: str
    dimension: float
    interval: tuple[float, float]
    method: str
    k: int
    n: int
    n_unique: int
    discard_fraction: float
    n_bootstrap: int
    confidence: float
    seed: int | None

    def __float__(self) -> float:
        return float(self.dimension)

    @property
    def n_duplicates(self) -> int:
        """Rows dropped as exact duplicates."""
        return self.n - self.n_unique

    def to_frame(self):
        """One row: ``dimension, low, high, method, k, n, n_unique``."""
        import pandas as pd

        return pd.DataFrame([{"dimension": self.dimension, "low": self.interval[0],
                              "high": self.interval[1], "method": self.method, "k": self.k,
                              "n": self.n, "n_unique": self.n_unique}])

    def tidy(self):
        """Rows ``layer='x', metric ('id_<method>', '..._low', '..._high'), value``."""
        import pandas as pd

        m = f"id_{self.method}"
        return pd.DataFrame([
            {"layer": "x", "metric": m, "value": self.dimension},
            {"layer": "x", "metric": f"{m}_low", "value": self.interval[0]},
            {"layer": "x", "metric": f"{m}_high", "value": self.interval[1]}])


def neighbor_distances(x: torch.Tensor, k: int, chunk: int = 4096) -> torch.Tensor:
    """Sorted Euclidean distances ``(n, k)`` of every row to its ``k`` nearest other rows.

    Neighbours are selected with one distance GEMM per chunk of rows, in ``x``'s dtype and on
    its device; the selected distances are then recomputed from the differences in float64,
    so near-duplicates keep accurate small distances.
    """
    n = x.shape[0]
    sq = (x * x).sum(dim=1)
    x64 = x.to(torch.float64)
    out = []
    for start in range(0, n, chunk):
        rows = x[start:start + chunk]
        b = rows.shape[0]
        # |x_j|^2 - 2 x_i.x_j ranks the neighbours of row i (|x_i|^2 is constant along it)
        d = torch.addmm(sq[None, :], rows, x.T, beta=1.0, alpha=-2.0)
        d[torch.arange(b, device=x.device), torch.arange(start, start + b, device=x.device)] = \
            math.inf
        if k == 2:  # two passes of min beat a top-k selection (and min beats argmin on CPU)
            ar = torch.arange(b, device=x.device)
            i1 = d.min(dim=1).indices
            d[ar, i1] = math.inf
            idx = torch.stack([i1, d.min(dim=1).indices], dim=1)
        else:
            idx = torch.topk(d, k, dim=1, largest=False).indices
        diff = x64[idx] - x64[start:start + b, None, :]
        out.append(torch.sort(torch.linalg.vector_norm(diff, dim=2), dim=1).values)
    return torch.cat(out)


def _twonn_fit(mu: np.ndarray, discard: float) -> np.ndarray:
    """Facco's regression through the origin; ``mu`` is ``(..., n)``."""
    n = mu.shape[-1]
    keep = max(1, int(math.floor(n * (1.0 - discard))))
    srt = np.sort(mu, axis=-1)[..., :keep]
    f = np.arange(1, keep + 1) / n
    f = np.minimum(f, 1.0 - 0.5 / n)
    xs = np.log(srt)
    ys = -np.log1p(-f)
    return (xs * ys).sum(axis=-1) / (xs * xs).sum(axis=-1)


def _gride_nll(d: float, logmu: np.ndarray, k: int) -> float:
    t = d * logmu
    log_em1 = t + np.log1p(-np.exp(-t))  # log(mu^d - 1), stable
    ll = math.log(d) * logmu.size + (k - 1) * log_em1.sum() - ((2 * k - 1) * d + 1) * logmu.sum()
    return -float(ll)


def _gride_fit(logmu: np.ndarray, k: int, d_max: float) -> float:
    from scipy.optimize import minimize_scalar

    if k == 1:
        return float(logmu.size / logmu.sum())
    res = minimize_scalar(_gride_nll, bounds=(1e-6, d_max), args=(logmu, k), method="bounded",
                          options={"xatol": 1e-8})
    return float(res.x)


def intrinsic_dimension(x: Any, *, method: str = "twonn", k: int | None = None,
                        discard_fraction: float = 0.1, n_bootstrap: int = 200,
                        confidence: float = 0.95,
                        seed: int | torch.Generator = 0) -> IntrinsicDimension:
    """Intrinsic dimension of a point cloud (rows of ``x``) by TwoNN, MLE or Gride.

    Exact duplicate rows are merged first (see the module docstring); distances run on
    ``x``'s device, in chunks of rows.

    Args:
        x: Points ``(n, p)`` (more dimensions are flattened per row).
        method: ``"twonn"``, ``"mle"`` or ``"gride"``.
        k: ``mle``: neighbours (default 20); ``gride``: the scale ``n1`` of
            ``mu = T_{2 n1} / T_{n1}`` (default 4); ignored by ``twonn``.
        discard_fraction: ``twonn``: share of the largest ratios left out of the fit, in
            [0, 0.9] (Facco et al. use 0.1).
        n_bootstrap: Bootstrap resamples for the interval (0: no interval).
        confidence: Level of the percentile interval, in (0, 1).
        seed: Seed (or ``torch.Generator``) of the bootstrap.

    Returns:
        An :class:`IntrinsicDimension`.

    Raises:
        DeepscopeValueError: Too few distinct points for ``k``, NaN/inf, bad options.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> z = torch.randn(2000, 3, generator=g, dtype=torch.float64)
        >>> plane = z @ torch.randn(3, 50, generator=g, dtype=torch.float64)
        >>> round(intrinsic_dimension(plane, n_bootstrap=0).dimension)
        3
    """
    func = "intrinsic_dimension"
    check_choice(method, "method", func, METHODS)
    if k is None:
        k = _DEFAULT_K[method]
    elif method == "twonn":
        k = check_int(k, "k", func, low=2, high=2)
    else:
        k = check_int(k, "k", func, low=2 if method == "mle" else 1, high=100_000)
    discard = check_float(discard_fraction, "discard_fraction", func, low=0.0, high=0.9)
    n_boot = check_int(n_bootstrap, "n_bootstrap", func, low=0, high=100_000)
    conf = check_float(confidence, "confidence", func, low=0.0, high=1.0, closed="neither")
    gen, seed_int = make_generator(seed, "seed", func)
    x = as_matrix(x, "x", func, min_rows=3)
    n = x.shape[0]
    need = {"twonn": 2, "mle": k, "gride": 2 * k}[method]
    dist = neighbor_distances(x, need) if n >= need + 1 else None
    m = n
    if dist is None or bool((dist[:, 0] == 0).any()):  # exact duplicates: merge, redo
        uniq = torch.unique(x, dim=0)
        m = uniq.shape[0]
        if m < need + 1:
            raise param_error("x", func, f"at least {need + 1} distinct points for method "
                              f"{method!r} with k={k}", f"{m} distinct of {n} rows")
        dist = neighbor_distances(uniq, need)
    dist = dist.cpu().numpy()
    if method == "twonn":
        stat = dist[:, 1] / dist[:, 0]

        def fit(s):
            return _twonn_fit(s, discard)
    elif method == "mle":
        logs = np.log(dist[:, -1:] / dist[:, :-1])
        stat = logs.mean(axis=1)

        def fit(s):
            return 1.0 / s.mean(axis=-1)
    else:
        stat = np.log(np.maximum(dist[:, 2 * k - 1] / dist[:, k - 1], 1.0 + 1e-12))
        d_max = 10.0 * x.shape[1] + 10.0

        def fit(s):
            if s.ndim == 1:
                return _gride_fit(s, k, d_max)
            return np.array([_gride_fit(row, k, d_max) for row in s])
    dim = float(fit(stat))
    interval = (math.nan, math.nan)
    if n_boot:
        idx = torch.randint(0, m, (n_boot, m), generator=gen).numpy()
        boots = np.asarray(fit(stat[idx]), dtype=np.float64)
        lo, hi = np.quantile(boots, [(1 - conf) / 2, (1 + conf) / 2])
        interval = (float(lo), float(hi))
    return IntrinsicDimension(
        lens="representations.intrinsic_dimension", dimension=dim, interval=interval,
        method=method, k=k, n=n, n_unique=m, discard_fraction=discard, n_bootstrap=n_boot,
        confidence=conf, seed=seed_int)
