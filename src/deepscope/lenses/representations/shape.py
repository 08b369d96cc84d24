"""Shape metrics (Procrustes to CCA) and mutual nearest-neighbour alignment.

Generalised shape metrics (Williams, Kunz, Kornblith & Linderman 2021, arXiv 2110.14739):
each representation is centred, scaled to unit total variance
(:math:`\\mathrm{tr}\\, C_X = 1`, so every ``alpha`` ignores isotropic scaling), partially
whitened,
:math:`\\phi_\\alpha(X) = X_c(\\alpha I + (1 - \\alpha) C_X^{-1/2})` with the covariance
:math:`C_X = X_c^T X_c / n`, and scaled to unit Frobenius norm. ``alpha = 1`` is Procrustes
(invariant to rotations, translation, isotropic scaling), ``alpha = 0`` is CCA (invariant to
every invertible linear map). The angular distance

.. math::
    \\theta(X, Y) = \\arccos \\max_{Q \\in O} \\langle \\phi(X), \\phi(Y) Q \\rangle_F
    = \\arccos \\lVert \\phi(X)^T \\phi(Y) \\rVert_*

is a metric (``euclidean`` gives :math:`\\sqrt{2 - 2\\cos\\theta}`, the orthogonal
Procrustes distance of the normalised representations).

Mutual k-NN alignment (Huh, Cheung, Wang & Isola 2024, arXiv 2405.07987): the mean share of
each example's ``k`` nearest neighbours (Euclidean, itself excluded) that both
representations agree on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from deepscope.errors import check_choice, check_float, check_int, param_error
from deepscope.lenses.representations._checks import as_pair

__all__ = ["MutualKNN", "ShapeDistance", "mutual_knn", "procrustes_distance",
           "shape_distance"]


@dataclass(frozen=True)
class ShapeDistance:
    """A generalised shape distance between two representations.

    Attributes:
        lens: ``"representations.shape_distance"``.
        value: The distance (0 for identical shapes).
        alpha: Partial whitening: 1 Procrustes, 0 CCA.
        metric: ``"angular"`` (radians, in [0, pi/2]) or ``"euclidean"`` (in [0, sqrt 2]).
        similarity: :math:`\\cos\\theta`, the normalised nuclear norm (1 for identical).
        n: Examples.
        ranks: Numerical ranks of the centred ``x`` and ``y``.
    """

    lens: str
    value: float
    alpha: float
    metric: str
    similarity: float
    n: int
    ranks: tuple[int, int]

    def __float__(self) -> float:
        return float(self.value)

    def to_frame(self):
        """One row: ``distance, similarity, alpha, metric, n, rank_x, rank_y``."""
        import pandas as pd

        return pd.DataFrame([{"distance": self.value, "similarity": self.similarity,
                              "alpha": self.alpha, "metric": self.metric, "n": self.n,
                              "rank_x": self.ranks[0], "rank_y": self.ranks[1]}])

    def tidy(self):
        """Two rows ``layer='x', layer_b='y', metric, value``: ``shape_<metric>`` and
        ``shape_similarity``."""
        import pandas as pd

        return pd.DataFrame([
            {"layer": "x", "layer_b": "y", "metric": f"shape_{self.metric}", "value": self.value},
            {"layer": "x", "layer_b": "y", "metric": "shape_similarity",
             "value": self.similarity}])


def _whitened(x: torch.Tensor, alpha: float) -> tuple[torch.Tensor, int]:
    """``phi_alpha(x)`` up to a right rotation, as ``U diag(alpha s + (1-alpha) sqrt n)``."""
    n = x.shape[0]
    xc = x - x.mean(dim=0, keepdim=True)
    u, s, _ = torch.linalg.svd(xc, full_matrices=False)
    tol = (s[0] if s.numel() else 0.0) * max(xc.shape) * torch.finfo(xc.dtype).eps
    keep = s > tol
    r = int(keep.sum())
    if r == 0:
        return u[:, :0], 0
    sk = s[keep] * math.sqrt(n) / torch.linalg.norm(s[keep])  # unit total variance
    scale = alpha * sk + (1.0 - alpha) * math.sqrt(n)
    z = u[:, keep] * scale
    return z / torch.linalg.norm(z), r


def shape_distance(x: Any, y: Any, *, alpha: float = 1.0, metric: str = "angular"
                   ) -> ShapeDistance:
    """Generalised shape distance of Williams et al. (2021) between two representations.

    Computed in float64 through the thin SVD of each centred representation (directions with
    singular value below ``max(n, p) * eps * s_max`` are dropped, so rank-deficient
    representations are fine; with ``alpha = 0`` every kept direction counts equally, so
    near-null directions make CCA noisy, as usual for CCA).

    Args:
        x: Representation ``(n, p)``.
        y: Representation ``(n, q)`` of the same inputs.
        alpha: In [0, 1]: 1 Procrustes, 0 CCA, in between partial whitening.
        metric: ``"angular"`` or ``"euclidean"``.

    Returns:
        A :class:`ShapeDistance`.

    Raises:
        DeepscopeValueError: Mismatched rows, NaN, a constant representation, bad options.

    Example:
        >>> import torch
        >>> x = torch.randn(50, 5, dtype=torch.float64)
        >>> q = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64))[0]
        >>> shape_distance(x, 2 * x @ q + 3).value < 1e-6
        True
    """
    func = "shape_distance"
    alpha = check_float(alpha, "alpha", func, low=0.0, high=1.0)
    check_choice(metric, "metric", func, ("angular", "euclidean"))
    x, y = as_pair(x, y, func)
    zx, rx = _whitened(x, alpha)
    zy, ry = _whitened(y, alpha)
    if rx == 0 or ry == 0:
        raise param_error("x" if rx == 0 else "y", func,
                          "a representation that is not constant across examples",
                          "a constant representation")
    if ry > rx:  # rotate the narrower one into the wider one (zero padding implied)
        zx, zy = zy, zx
    u, s, vh = torch.linalg.svd(zy.T @ zx, full_matrices=False)
    sim = float(s.sum().clamp(-1.0, 1.0))
    # the residual of the best rotation, computed directly: exactly 0 for identical shapes
    # (arccos of a rounded cosine near 1 would be ~1e-8)
    resid = float(torch.linalg.norm(zx - zy @ (u @ vh)))
    value = 2.0 * math.asin(min(resid / 2.0, 1.0)) if metric == "angular" else resid
    return ShapeDistance(lens="representations.shape_distance", value=value, alpha=alpha,
                         metric=metric, similarity=sim, n=x.shape[0], ranks=(rx, ry))


def procrustes_distance(x: Any, y: Any, *, metric: str = "angular") -> ShapeDistance:
    """Procrustes shape distance: :func:`shape_distance` with ``alpha = 1``.

    Invariant to translation, isotropic scaling and orthogonal maps of either representation.

    Example:
        >>> import torch
        >>> x = torch.randn(40, 3, dtype=torch.float64)
        >>> procrustes_distance(x, x).value < 1e-12
        True
    """
    check_choice(metric, "metric", "procrustes_distance", ("angular", "euclidean"))
    return shape_distance(x, y, alpha=1.0, metric=metric)


@dataclass(frozen=True)
class MutualKNN:
    """Mutual k-nearest-neighbour alignment.

    Attributes:
        lens: ``"representations.mutual_knn"``.
        value: Mean over examples of ``|N_x(i) & N_y(i)| / k`` (1 for identical neighbourhoods).
        k: Neighbours per example.
        n: Examples.
        chance: The expected value for unrelated representations, ``k / (n - 1)``.
    """

    lens: str
    value: float
    k: int
    n: int
    chance: float

    def __float__(self) -> float:
        return float(self.value)

    def to_frame(self):
        """One row: ``mutual_knn, k, n, chance``."""
        import pandas as pd

        return pd.DataFrame([{"mutual_knn": self.value, "k": self.k, "n": self.n,
                              "chance": self.chance}])

    def tidy(self):
        """One row: ``layer='x', layer_b='y', metric='mutual_knn', value``."""
        import pandas as pd

        return pd.DataFrame([{"layer": "x", "layer_b": "y", "metric": "mutual_knn",
                              "value": self.value}])


def knn_indices(x: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Indices ``(n, k)`` of each row's ``k`` nearest other rows (Euclidean), ties by index."""
    n = x.shape[0]
    sq = (x * x).sum(dim=1)
    out = []
    for start in range(0, n, chunk):
        rows = x[start:start + chunk]
        d = torch.addmm(sq[None, :], rows, x.T, beta=1.0, alpha=-2.0)
        idx = torch.arange(start, start + rows.shape[0], device=x.device)
        d[torch.arange(rows.shape[0], device=x.device), idx] = math.inf
        out.append(torch.topk(d, k, dim=1, largest=False).indices)
    return torch.cat(out)


def mutual_knn(x: Any, y: Any, *, k: int = 10) -> MutualKNN:
    """Mutual k-NN alignment of two representations (Huh et al. 2024).

    Symmetric, 1 for identical neighbourhoods, invariant to translation, isotropic scaling
    and orthogonal maps; for unrelated representations about ``k / (n - 1)``. Distances are
    computed in float64, in chunks of rows (memory ``O(chunk * n)``).

    Args:
        x: Representation ``(n, p)``.
        y: Representation ``(n, q)`` of the same inputs.
        k: Neighbours, in [1, n - 1].

    Returns:
        A :class:`MutualKNN`.

    Example:
        >>> import torch
        >>> x = torch.randn(100, 4, dtype=torch.float64)
        >>> mutual_knn(x, -x, k=5).value
        1.0
    """
    func = "mutual_knn"
    x, y = as_pair(x, y, func)
    n = x.shape[0]
    k = check_int(k, "k", func, low=1, high=n - 1)
    nx, ny = knn_indices(x, k), knn_indices(y, k)
    hit = (nx[:, :, None] == ny[:, None, :]).any(dim=2).sum(dim=1)
    value = float(hit.double().mean() / k)
    return MutualKNN(lens="representations.mutual_knn", value=value, k=k, n=n,
                     chance=k / (n - 1))
