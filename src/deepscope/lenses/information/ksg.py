"""k-nearest-neighbour mutual information: KSG estimator 1 and Ross's discrete variant.

Brute-force neighbour search with max-norm (Chebyshev) distances in float64, done in row
chunks on the inputs' device and batched over a leading seed axis. Distances are exact
(|a - b| and max are exact in floating point up to the rounding of a - b, which is the
same for every comparison), so "strictly inside" counts are well defined.
"""

from __future__ import annotations

import math

import torch

from deepscope.lenses.information.kde import MAX_MEMORY_BYTES, chunk_rows

_INF = float("inf")


def _cheb(points: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Max-norm distances ``(S, stop-start, N)`` from rows ``start:stop``; self = +inf."""
    dist = torch.cdist(points[:, start:stop], points, p=_INF)
    diag = torch.arange(stop - start, device=points.device)
    dist[:, diag, diag + start] = _INF
    return dist


def _kth_smallest(dist: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th smallest value along the last dim, keeping it (topk beats kthvalue here)."""
    return dist.topk(k, dim=-1, largest=False, sorted=True).values[..., -1:]


def knn_information(
    t: torch.Tensor,
    k: int,
    *,
    x: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    n_labels: int = 0,
    max_memory_bytes: int = MAX_MEMORY_BYTES,
) -> dict[str, torch.Tensor]:
    """k-NN estimates in bits, float64 ``(S,)``, sharing one distance pass over ``t``.

    ``"ksg"`` (when ``x`` is given): KSG estimator 1 of I(X;T),

    .. math:: I = \\psi(k) + \\psi(N) - \\langle \\psi(n_x + 1) + \\psi(n_t + 1) \\rangle

    with ``eps_i`` the max-norm distance to the k-th neighbour in the joint space and
    ``n_x``, ``n_t`` the neighbours strictly closer than ``eps_i`` in each marginal.

    ``"ross"`` (when ``labels`` are given): Ross (2014) estimate of I(T;Y), discrete Y,

    .. math::

        I = \\psi(N) + \\psi(k) - \\langle \\psi(N_{y_i}) \\rangle - \\langle \\psi(m_i) \\rangle

    with ``d_i`` the distance to the k-th neighbour among samples of the same label and
    ``m_i`` the samples (any label, ``i`` excluded) within ``d_i``, the k-th included.
    Every class must hold more than ``k`` samples.

    Args:
        t: float64 ``(St, N, dt)``.
        k: neighbours, ``1 <= k < N``.
        x: float64 ``(Sx, N, dx)``; ``St`` and ``Sx`` are 1 (shared) or S.
        labels: int64 ``(N,)`` dense labels in ``[0, n_labels)``.
        n_labels: number of label values.
        max_memory_bytes: budget for the row chunks.
    """
    s = max(t.shape[0], 1 if x is None else x.shape[0])
    n = t.shape[1]
    rows = chunk_rows(s, n, max_memory_bytes, 5)
    acc_ksg, acc_ross = t.new_zeros(s), t.new_zeros(s)
    digamma = torch.special.digamma
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        dt = _cheb(t, start, stop)
        if x is not None:
            dx = _cheb(x, start, stop)
            eps = _kth_smallest(torch.maximum(dx, dt), k)
            n_x = (dx < eps).sum(-1).to(torch.float64)
            del dx
            n_t = (dt < eps).sum(-1).to(torch.float64)
            acc_ksg += (digamma(n_x + 1) + digamma(n_t + 1)).sum(-1)
        if labels is not None:
            other = labels[start:stop, None] != labels[None, :]
            radius = _kth_smallest(dt.masked_fill(other, _INF), k)
            acc_ross += digamma((dt <= radius).sum(-1).to(torch.float64)).sum(-1)
    const = digamma(t.new_tensor([float(k), float(n)])).sum()
    out = {}
    if x is not None:
        out["ksg"] = (const - acc_ksg / n) / math.log(2.0)
    if labels is not None:
        class_size = torch.bincount(labels, minlength=n_labels).to(torch.float64)
        ross = const - digamma(class_size[labels]).mean() - acc_ross / n
        out["ross"] = ross / math.log(2.0)
    return out
