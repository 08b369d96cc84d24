"""Pairwise-distance bounds on the entropy of a Gaussian mixture (Kolchinsky & Tracey 2017).

For points ``h_1..h_N`` (equally likely) and noise ``N(0, sigma2 I)`` the mixture
``T = h_X + Z`` has ``H(T|X) = d/2 ln(2 pi e sigma2)`` and, with ``D_ij = |h_i - h_j|^2``,

    I(X;T) <= -(1/N) sum_i ln (1/N) sum_j exp(-D_ij / (2 sigma2))   (KL distance)
    I(X;T) >= -(1/N) sum_i ln (1/N) sum_j exp(-D_ij / (8 sigma2))   (Bhattacharyya)

The class-conditional mixtures give ``H(T|Y)`` the same way; the ``d/2 ln(2 pi e sigma2)``
terms cancel in every difference, so only kernel row sums are needed. The N x N kernel
is never held: rows are processed in chunks sized to a memory budget.
"""

from __future__ import annotations

import math

import torch

MAX_MEMORY_BYTES = 64 * 2**20  # working memory of one chunk (all seeds, all temporaries)
_TEMPORARIES = 3  # float64 (S, chunk, N) tensors: distance and kernel buffers, matmul slack


def chunk_rows(n_seeds: int, n: int, max_memory_bytes: int, temporaries: int) -> int:
    """Rows per chunk so that ``temporaries`` float64 ``(S, rows, N)`` tensors fit the budget."""
    return max(1, min(n, max_memory_bytes // (8 * temporaries * max(1, n_seeds) * max(1, n))))


def kde_bounds(
    h: torch.Tensor,
    labels: torch.Tensor,
    n_labels: int,
    noise_variance: float,
    max_memory_bytes: int = MAX_MEMORY_BYTES,
) -> dict[str, torch.Tensor]:
    """Upper (KL) and lower (Bhattacharyya) estimates of I(X;T) and I(T;Y), in bits.

    Args:
        h: float64 ``(S, N, d)`` points (one snapshot per seed).
        labels: int64 ``(N,)`` dense labels in ``[0, n_labels)``.
        n_labels: number of label values.
        noise_variance: ``sigma2``.
        max_memory_bytes: budget for the row chunks.

    Returns:
        ``i_xt``, ``i_xt_lower``, ``i_ty``, ``i_ty_lower``: float64 ``(S,)`` tensors.
    """
    s, n, _ = h.shape
    h = h - h.mean(dim=1, keepdim=True)  # centring reduces cancellation in |a|^2+|b|^2-2ab
    sq = (h * h).sum(-1)
    onehot = torch.nn.functional.one_hot(labels, n_labels).to(torch.float64)
    class_size = onehot.sum(0)
    ht = h.transpose(1, 2)
    rows = chunk_rows(s, n, max_memory_bytes, _TEMPORARIES)
    sums = {key: h.new_zeros(s) for key in ("all_u", "cls_u", "all_l", "cls_l")}
    # two buffers reused by every chunk (no per-chunk allocation, so no heap fragmentation)
    buffers = h.new_empty((2, s * rows * n))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        shape = (s, stop - start, n)
        dist = buffers[0, : math.prod(shape)].view(shape)
        torch.matmul(h[:, start:stop], ht, out=dist)
        dist.mul_(-2.0).add_(sq[:, start:stop, None]).add_(sq[:, None, :]).clamp_(min=0.0)
        diag = torch.arange(stop - start, device=h.device)
        dist[:, diag, diag + start] = 0.0
        lab = labels[start:stop].expand(s, -1).unsqueeze(-1)
        size = class_size[labels[start:stop]]
        for tag, scale in (("u", 2.0), ("l", 8.0)):
            kernel = buffers[1, : math.prod(shape)].view(shape)
            torch.mul(dist, -1.0 / (scale * noise_variance), out=kernel).exp_()
            per_class = torch.matmul(kernel, onehot)  # (S, rows, classes)
            sums["all_" + tag] += torch.log(per_class.sum(-1) / n).sum(-1)
            sums["cls_" + tag] += torch.log(per_class.gather(-1, lab).squeeze(-1) / size).sum(-1)
    ln2 = math.log(2.0)
    out = {}
    for tag, suffix in (("u", ""), ("l", "_lower")):
        out["i_xt" + suffix] = (0.0 - sums["all_" + tag]) / (n * ln2)
        out["i_ty" + suffix] = (sums["cls_" + tag] - sums["all_" + tag]) / (n * ln2)
    return out
