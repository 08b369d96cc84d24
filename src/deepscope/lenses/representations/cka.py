"""Centered kernel alignment (Kornblith et al. 2019) and its debiased form.

Linear CKA of two representations ``X (n, p)`` and ``Y (n, q)`` of the same inputs:

.. math::
    \\mathrm{CKA}(X, Y) = \\frac{\\lVert X_c^T Y_c \\rVert_F^2}
    {\\lVert X_c^T X_c \\rVert_F \\, \\lVert Y_c^T Y_c \\rVert_F}

with column-centred ``X_c, Y_c``; kernel CKA replaces the Gram matrices by centred kernel
matrices, :math:`\\mathrm{HSIC}(K, L) / \\sqrt{\\mathrm{HSIC}(K, K)\\,\\mathrm{HSIC}(L, L)}`.
The debiased form (Nguyen, Raghu & Kornblith 2021, arXiv 2010.15327) uses Song et al.'s
(2012) unbiased HSIC estimator, so that CKA of independent representations tends to 0
instead of a positive bias that grows with the width.

Kornblith, Norouzi, Lee & Hinton 2019, "Similarity of Neural Network Representations
Revisited", arXiv 1905.00414.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from deepscope.errors import DeepscopeValueError, check_choice, check_float, param_error
from deepscope.lenses.representations._checks import as_matrix, as_pair
from deepscope.lenses.representations._moments import Cross, Moments, linear_cka

__all__ = ["CKA", "CKAResult", "cka"]

KERNELS = ("linear", "rbf")


@dataclass(frozen=True)
class CKAResult:
    """CKA of two representations.

    Attributes:
        lens: ``"representations.cka"``.
        value: The CKA (NaN when a representation has no variance, or, debiased, when an
            unbiased self-HSIC is not positive at tiny ``n``).
        kernel: ``"linear"`` or ``"rbf"``.
        debiased: Whether the unbiased HSIC estimator was used.
        n: Number of examples.
        sigma: RBF bandwidth as a fraction of the median pairwise distance (None: linear).
        bandwidths: The RBF bandwidths used for ``x`` and ``y`` (None: linear).
        names: Names of the two representations in ``tidy()`` (``layer``, ``layer_b``).
    """

    lens: str
    value: float
    kernel: str
    debiased: bool
    n: int
    sigma: float | None = None
    bandwidths: tuple[float, float] | None = None
    names: tuple[str, str] = ("x", "y")

    def __float__(self) -> float:
        return float(self.value)

    def to_frame(self):
        """One row: ``cka, kernel, debiased, n, sigma``."""
        import pandas as pd

        return pd.DataFrame([{"cka": self.value, "kernel": self.kernel,
                              "debiased": self.debiased, "n": self.n, "sigma": self.sigma}])

    def tidy(self):
        """One row: ``layer, layer_b, metric ('cka' or 'cka_debiased'), value``."""
        import pandas as pd

        metric = "cka_debiased" if self.debiased else "cka"
        return pd.DataFrame([{"layer": self.names[0], "layer_b": self.names[1],
                              "metric": metric, "value": self.value}])


class CKA:
    """Streaming linear CKA: exact over minibatches, memory set by the widths, not ``n``.

    ``update(x, y)`` adds a batch of the two representations of the same inputs (rows are
    examples; extra dimensions are flattened); ``compute()`` returns the CKA of everything
    seen, equal to :func:`cka` on the concatenated batches (up to float rounding). It keeps
    ``X^T Y``, ``X^T X``, ``Y^T Y``, column sums, and the row-norm sums the debiased
    estimator needs, in float64 on the batches' device; the batch products run in the
    batches' dtype. The RBF kernel needs all pairs of examples and is one-shot only
    (:func:`cka`).

    Args:
        debiased: Use the unbiased HSIC estimator (needs ``n >= 4``).

    Example:
        >>> import torch
        >>> acc = CKA()
        >>> x = torch.randn(100, 8, dtype=torch.float64)
        >>> q = torch.linalg.qr(torch.randn(8, 8, dtype=torch.float64))[0]
        >>> for part in x.split(25):
        ...     acc.update(part, part @ q)
        >>> round(acc.compute().value, 6)
        1.0
    """

    def __init__(self, *, debiased: bool = False) -> None:
        if not isinstance(debiased, bool):
            raise param_error("debiased", "CKA", "a bool", debiased, type_error=True)
        self.debiased = debiased
        self.reset()

    def reset(self) -> None:
        """Forget every batch."""
        self._mx, self._my, self._c = Moments(), Moments(), Cross()

    @property
    def n(self) -> int:
        """Examples seen so far."""
        return self._mx.n

    def update(self, x: Any, y: Any) -> None:
        """Add a batch: ``x (b, p)`` and ``y (b, q)``, the same ``b`` inputs."""
        x = as_matrix(x, "x", "CKA.update", min_rows=1)
        y = as_matrix(y, "y", "CKA.update", min_rows=1)
        if x.shape[0] != y.shape[0]:
            raise param_error("y", "CKA.update", f"a batch with as many rows as x ({x.shape[0]})",
                              f"{y.shape[0]} rows")
        for m, t, name in ((self._mx, x, "x"), (self._my, y, "y")):
            if m.shift is not None and t.shape[1] != m.width:
                raise param_error(name, "CKA.update", f"a batch with {m.width} features, as "
                                  "the first one", f"{t.shape[1]} features")
        y = y.to(x.device)
        xs, a = self._mx.prepare(x)
        ys, b = self._my.prepare(y)
        self._mx.update(xs, a)
        self._my.update(ys, b)
        self._c.update(xs, a, ys, b)

    def compute(self) -> CKAResult:
        """The CKA of every batch seen so far."""
        need = 4 if self.debiased else 2
        if self.n < need:
            raise DeepscopeValueError(
                f"CKA.compute needs at least {need} examples"
                f"{' for the debiased estimator' if self.debiased else ''}; it has seen {self.n}."
            )
        value = linear_cka(self._mx, self._my, self._c, self.debiased)
        return CKAResult(lens="representations.cka", value=value, kernel="linear",
                         debiased=self.debiased, n=self.n)


def center_gram(k: torch.Tensor) -> torch.Tensor:
    """``H K H`` with ``H = I - 11^T / n``."""
    k = k - k.mean(dim=0, keepdim=True)
    return k - k.mean(dim=1, keepdim=True)


def hsic_gram(k: torch.Tensor, l: torch.Tensor, debiased: bool) -> float:  # noqa: E741
    """HSIC of two kernel matrices (biased: ``tr(HKH HLH)``; unbiased: Song et al. 2012)."""
    n = k.shape[0]
    if not debiased:
        return float((center_gram(k) * center_gram(l)).sum())
    kt = k - torch.diag(torch.diagonal(k))
    lt = l - torch.diag(torch.diagonal(l))
    k1, l1 = kt.sum(dim=1), lt.sum(dim=1)
    val = ((kt * lt).sum() + k1.sum() * l1.sum() / ((n - 1) * (n - 2))
           - 2.0 * (k1 @ l1) / (n - 2)) / (n * (n - 3))
    return float(val)


def cka_gram(k: torch.Tensor, l: torch.Tensor, debiased: bool) -> float:  # noqa: E741
    """Kernel CKA from two ``n x n`` kernel matrices (NaN when a self-term is not positive)."""
    kk, ll = hsic_gram(k, k, debiased), hsic_gram(l, l, debiased)
    if not (kk > 0 and ll > 0):
        return math.nan
    return hsic_gram(k, l, debiased) / math.sqrt(kk * ll)


def _sq_dists(x: torch.Tensor) -> torch.Tensor:
    g = x @ x.T
    d = torch.diagonal(g)
    return (d[:, None] + d[None, :] - 2.0 * g).clamp_min(0.0)


def rbf_gram(x: torch.Tensor, sigma: float) -> tuple[torch.Tensor, float]:
    """RBF kernel ``exp(-|x_i - x_j|^2 / (2 h^2))``, ``h = sigma * median distance``."""
    d2 = _sq_dists(x)
    n = x.shape[0]
    off = d2[~torch.eye(n, dtype=torch.bool, device=x.device)]
    med = float(torch.sqrt(off.median())) if off.numel() else 0.0
    h = sigma * med
    if h <= 0:
        return torch.ones_like(d2), 0.0
    return torch.exp(-d2 / (2.0 * h * h)), h


def cka(x: Any, y: Any, *, kernel: str = "linear", debiased: bool = False,
        sigma: float = 1.0) -> CKAResult:
    """CKA of two representations of the same ``n`` inputs.

    Computed in float64 on ``x``'s device. The linear kernel uses the cheaper of the
    feature-space sums (:class:`CKA`) and the ``n x n`` Gram matrices; the RBF kernel
    forms the ``n x n`` kernel matrices (memory ``O(n^2)``; one-shot only).

    Args:
        x: Representation ``(n, p)`` (more dimensions are flattened per example).
        y: Representation ``(n, q)`` of the same inputs, in the same order.
        kernel: ``"linear"`` or ``"rbf"``.
        debiased: Use the unbiased HSIC estimator (Nguyen et al. 2021); needs ``n >= 4``.
        sigma: RBF bandwidth as a multiple of the median pairwise distance of each
            representation (Kornblith et al.'s ``threshold``); unused for ``"linear"``.

    Returns:
        A :class:`CKAResult`. CKA is symmetric, 1 for ``y = x``, and invariant to
        orthogonal maps, isotropic scaling and translation of either representation.

    Raises:
        DeepscopeValueError: On mismatched row counts, NaN/inf, too few rows, or an unknown
            kernel.

    Example:
        >>> import torch
        >>> x = torch.randn(200, 10, dtype=torch.float64)
        >>> round(cka(x, 3 * x + 1).value, 6)
        1.0
    """
    check_choice(kernel, "kernel", "cka", KERNELS)
    if not isinstance(debiased, bool):
        raise param_error("debiased", "cka", "a bool", debiased, type_error=True)
    sigma = check_float(sigma, "sigma", "cka", low=0.0, closed="neither")
    x, y = as_pair(x, y, "cka", min_rows=4 if debiased else 2)
    n, p, q = x.shape[0], x.shape[1], y.shape[1]
    if kernel == "rbf":
        k, hx = rbf_gram(x, sigma)
        l, hy = rbf_gram(y, sigma)  # noqa: E741
        return CKAResult(lens="representations.cka", value=cka_gram(k, l, debiased),
                         kernel="rbf", debiased=debiased, n=n, sigma=sigma,
                         bandwidths=(hx, hy))
    if n * n < p * q:
        x = x - x.mean(dim=0, keepdim=True)
        y = y - y.mean(dim=0, keepdim=True)
        value = cka_gram(x @ x.T, y @ y.T, debiased)
    else:
        acc = CKA(debiased=debiased)
        acc.update(x, y)
        value = acc.compute().value
    return CKAResult(lens="representations.cka", value=value, kernel="linear",
                     debiased=debiased, n=n)
