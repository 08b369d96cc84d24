"""Feature-space sums from which linear CKA (plain and debiased) is exact (private).

For a representation ``X`` (rows ``x_i``, shifted by a constant ``c`` fixed at the first
batch, which changes neither estimator) a :class:`Moments` keeps ``n``, ``s = sum x_i``,
``G = X^T X``, ``a_i = |x_i|^2`` summed (``A1``) and squared (``A2``) and ``sum a_i x_i``.
A :class:`Cross` of two representations keeps ``C = X^T Y``, ``sum a_i b_i``,
``sum a_i y_i`` and ``sum b_i x_i``. Sums are float64 whatever the batch dtype (the batch
products run in the batch's dtype); memory is ``O(p^2 + p q + q^2)``, independent of ``n``.
"""

from __future__ import annotations

import math

import torch

_ACC = torch.float64


class Moments:
    """Running feature-space sums of one representation."""

    def __init__(self) -> None:
        self.n = 0
        self.shift: torch.Tensor | None = None
        self.s = self.G = self.ax = None
        self.A1 = self.A2 = 0.0
        self.width = 0

    def prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Shift a batch ``(b, p)``; return it with its squared row norms."""
        if self.shift is None:
            self.shift = x.mean(dim=0, keepdim=True)
            p = x.shape[1]
            self.width = p
            self.s = torch.zeros(p, dtype=_ACC, device=x.device)
            self.G = torch.zeros(p, p, dtype=_ACC, device=x.device)
            self.ax = torch.zeros(p, dtype=_ACC, device=x.device)
            self.A1 = torch.zeros((), dtype=_ACC, device=x.device)
            self.A2 = torch.zeros((), dtype=_ACC, device=x.device)
        xs = x - self.shift
        return xs, (xs.to(_ACC) ** 2).sum(dim=1)

    def update(self, xs: torch.Tensor, a: torch.Tensor) -> None:
        """Add a shifted batch and its squared row norms."""
        self.n += xs.shape[0]
        self.s += xs.sum(dim=0, dtype=_ACC)
        self.G += (xs.T @ xs).to(_ACC)
        self.A1 += a.sum()
        self.A2 += (a * a).sum()
        self.ax += (a.to(xs.dtype) @ xs).to(_ACC)


class Cross:
    """Running cross sums of two representations of the same examples."""

    def __init__(self) -> None:
        self.C = self.ay = self.bx = None
        self.ab = 0.0

    def update(self, xs: torch.Tensor, a: torch.Tensor, ys: torch.Tensor,
               b: torch.Tensor) -> None:
        """Add a batch of both shifted representations (and their squared row norms)."""
        if self.C is None:
            dev = xs.device
            self.C = torch.zeros(xs.shape[1], ys.shape[1], dtype=_ACC, device=dev)
            self.ay = torch.zeros(ys.shape[1], dtype=_ACC, device=dev)
            self.bx = torch.zeros(xs.shape[1], dtype=_ACC, device=dev)
            self.ab = torch.zeros((), dtype=_ACC, device=dev)
        self.C += (xs.T @ ys).to(_ACC)
        self.ab += (a * b).sum()
        self.ay += (a.to(ys.dtype) @ ys).to(_ACC)
        self.bx += (b.to(xs.dtype) @ xs).to(_ACC)


def self_cross(m: Moments) -> Cross:
    """The cross sums of a representation with itself (no extra pass)."""
    c = Cross()
    c.C, c.ay, c.bx, c.ab = m.G, m.ax, m.ax, m.A2
    return c


def hsic_biased(mx: Moments, my: Moments, c: Cross) -> float:
    """``||Xc^T Yc||_F^2`` (the centred linear HSIC times ``(n - 1)^2``)."""
    cc = c.C - torch.outer(mx.s, my.s) / mx.n
    return float((cc * cc).sum())


def hsic_unbiased(mx: Moments, my: Moments, c: Cross) -> float:
    """Song et al.'s (2012) unbiased HSIC of the linear kernels, from feature-space sums.

    With :math:`\\tilde K = K - \\mathrm{diag}(K)`:
    :math:`\\frac{1}{n(n-3)}[\\mathrm{tr}(\\tilde K\\tilde L) + \\frac{1^T\\tilde K 1\\,
    1^T\\tilde L 1}{(n-1)(n-2)} - \\frac{2}{n-2} 1^T\\tilde K\\tilde L 1]`.
    """
    n = mx.n
    t1 = (c.C * c.C).sum() - c.ab
    kt = mx.s @ mx.s - mx.A1
    lt = my.s @ my.s - my.A1
    t3 = mx.s @ c.C @ my.s - my.s @ c.ay - mx.s @ c.bx + c.ab
    val = (t1 + kt * lt / ((n - 1) * (n - 2)) - 2.0 * t3 / (n - 2)) / (n * (n - 3))
    return float(val)


def linear_cka(mx: Moments, my: Moments, c: Cross, debiased: bool) -> float:
    """Linear CKA from the sums; NaN when a self-term is not positive (0/0)."""
    hsic = hsic_unbiased if debiased else hsic_biased
    xx = hsic(mx, mx, self_cross(mx))
    yy = hsic(my, my, self_cross(my))
    if not (xx > 0 and yy > 0):
        return math.nan
    return hsic(mx, my, c) / math.sqrt(xx * yy)
