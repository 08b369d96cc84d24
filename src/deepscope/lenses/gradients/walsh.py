"""Boolean-cube helpers of the gradient lens: the fast Walsh-Hadamard transform and friends.

Convention: the input with index ``i`` in ``[0, 2**d)`` is ``x_j = 1 - 2 * bit_j(i)``
(bit 0 -> +1, bit 1 -> -1), and the subset ``S`` with index ``s`` holds the coordinates of
the set bits of ``s``. Then the parity ``chi_S(x_i) = prod_{j in S} x_j =
(-1)^{popcount(i & s)}``, which is the entry ``H[s, i]`` of the Sylvester-ordered Hadamard
matrix, so ``fwht(v)[s] = sum_i chi_S(x_i) v[i]``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["cube_inputs", "elementary_symmetric", "fwht", "popcount", "subset_sizes"]


def cube_inputs(start: int, stop: int, d: int, *, dtype: torch.dtype = torch.float32,
                device: torch.device | str | None = None) -> torch.Tensor:
    """Rows ``start .. stop - 1`` of the ``(2**d, d)`` matrix of all inputs in ``{+1, -1}^d``."""
    idx = torch.arange(start, stop, device=device, dtype=torch.int64)
    bits = (idx[:, None] >> torch.arange(d, device=device, dtype=torch.int64)) & 1
    return (1 - 2 * bits).to(dtype)


def popcount(idx: torch.Tensor, d: int) -> torch.Tensor:
    """Number of set bits among the low ``d`` bits of every integer in ``idx``."""
    bits = (idx[..., None] >> torch.arange(d, device=idx.device, dtype=idx.dtype)) & 1
    return bits.sum(-1)


def subset_sizes(d: int, device: torch.device | str | None = None) -> torch.Tensor:
    """``|S|`` for every subset index ``s`` in ``[0, 2**d)``."""
    return popcount(torch.arange(2 ** d, device=device, dtype=torch.int64), d)


def fwht(v: torch.Tensor) -> torch.Tensor:
    """Unnormalised fast Walsh-Hadamard transform along the first dimension.

    ``out[s] = sum_i (-1)^{popcount(i & s)} v[i]``, in ``O(2^d d)`` additions per column,
    vectorised over the trailing dimensions (e.g. parameters).

    Args:
        v: ``(2**d, ...)`` tensor; the first dimension must be a power of two.

    Returns:
        A new tensor of the same shape.

    Example:
        >>> fwht(torch.tensor([1.0, 0.0, 0.0, 0.0])).tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    n = v.shape[0]
    if n & (n - 1) or n == 0:
        raise ValueError(f"fwht needs a power-of-two length, got {n}")
    rest = v.shape[1:]
    out = v.reshape(n, -1).clone()
    m = out.shape[1]
    h = 1
    while h < n:
        # bit h of the index: pairs (i, i + h) inside blocks of 2h
        view = out.view(n // (2 * h), 2, h, m)
        a = view[:, 0].clone()
        view[:, 0].add_(view[:, 1])
        view[:, 1].mul_(-1).add_(a)
        h *= 2
    return out.reshape(n, *rest)


def elementary_symmetric(x: torch.Tensor, k: int) -> torch.Tensor:
    """``e_k(x) = sum_{|S| = k} prod_{j in S} x_j`` for every row of ``x`` (``(n, d)``).

    For ``x`` in ``{+1, -1}^d`` this is the Krawtchouk polynomial ``K_k(m)`` of the number
    ``m`` of ``-1`` coordinates: ``sum_j (-1)^j C(m, j) C(d - m, k - j)``.
    """
    d = x.shape[1]
    m = (x < 0).sum(1).to(torch.int64)
    table = torch.tensor([_krawtchouk(k, mm, d) for mm in range(d + 1)], dtype=torch.float64,
                         device=x.device)
    return table[m]


def _krawtchouk(k: int, m: int, d: int) -> float:
    return float(sum((-1) ** j * math.comb(m, j) * math.comb(d - m, k - j)
                     for j in range(0, min(k, m) + 1) if k - j <= d - m))
