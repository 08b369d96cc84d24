"""Exact discrete codes and plug-in entropies, vectorised over a leading seed axis.

Everything here works on int64 "digit" tensors of shape ``(S, N, w)``: ``S`` stacked
snapshots (seeds), ``N`` samples, ``w`` columns. A sample's symbol is its row of digits.
Rows are turned into one exact int64 code per sample by mixed-radix packing, column
group by column group; whenever the next radix product would pass 2**62 the running code
is first compressed to dense ranks (< N) by a sort, so no two different rows ever share
a code (no hashing). Entropies come from sorted codes by run-length counting; the final
sum runs over a histogram of run lengths ("count of counts"), so the value depends only
on the partition of the samples and not on how codes happen to be ordered.

All functions are private to :mod:`deepscope.lenses.information`; inputs are trusted.
"""

from __future__ import annotations

import torch

_LIMIT = 1 << 62  # largest radix product packed into one int64 code
_MAX_RADIX = 1 << 31  # columns spanning more values than this are rank-compressed first
_EXACT_FLOAT = float(1 << 52)  # floats below this in magnitude are exact integers in float64


def dense_rank(code: torch.Tensor) -> torch.Tensor:
    """Dense ranks (0, 1, ...) of ``code`` along the last dim; equal values share a rank."""
    ordered, perm = torch.sort(code, dim=-1)
    start = torch.ones_like(ordered, dtype=torch.bool)
    start[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    ranks = start.cumsum(-1) - 1
    return torch.empty_like(ranks).scatter_(-1, perm, ranks)


def _columns_to_digits(values: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """Non-negative int64 digits and a radix per column for integral-valued ``values``.

    ``values`` is ``(S, N, w)``, int64 or float64 holding integers. A column becomes
    ``value - column_min`` (min over seeds and samples) when its span is small; otherwise
    (huge or inexact span) it is replaced by its dense ranks per seed (radix N).
    """
    s, n, w = values.shape
    if w == 0:
        return values.new_zeros((s, n, 0), dtype=torch.int64), []
    low = values.amin(dim=(0, 1))
    high = values.amax(dim=(0, 1))
    bounds = torch.stack([low, high]).double().tolist()
    small = [
        abs(lo) < _EXACT_FLOAT and abs(hi) < _EXACT_FLOAT and hi - lo + 1 <= _MAX_RADIX
        for lo, hi in zip(*bounds)
    ]
    if all(small):
        digits = (values - low).to(torch.int64)
        return digits, [int(hi - lo) + 1 for lo, hi in zip(*bounds)]
    digits = torch.empty((s, n, w), dtype=torch.int64, device=values.device)
    radices = []
    for j, ok in enumerate(small):
        if ok:
            digits[..., j] = (values[..., j] - low[j]).to(torch.int64)
            radices.append(int(bounds[1][j] - bounds[0][j]) + 1)
        else:
            digits[..., j] = dense_rank(values[..., j])
            radices.append(n)
    return digits, radices


def discrete_digits(x: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """Digits for arbitrary discrete symbols ``x`` of shape ``(S, N, w)`` (rows exact).

    Integer and bool columns are offset by their minimum; floating columns are replaced by
    their dense ranks (exact float comparison, one batched sort for all columns).
    """
    if x.dtype == torch.bool:
        x = x.to(torch.int64)
    if x.is_floating_point():
        ranks = dense_rank(x.transpose(1, 2)).transpose(1, 2)
        return ranks.contiguous(), [x.shape[1]] * x.shape[2]
    return _columns_to_digits(x.to(torch.int64))


def combine(digits: torch.Tensor, radices: list[int]) -> tuple[torch.Tensor, int]:
    """Pack rows of ``digits`` ``(S, N, w)`` into exact int64 codes ``(S, N)``.

    Returns the codes and an upper bound ``R`` on them (codes lie in ``[0, R)``). Packing
    is lexicographic, so code order is row order; compression to ranks keeps the order.
    """
    s, n, w = digits.shape
    code = None
    bound = 1
    j = 0
    while j < w:
        if code is not None and bound * radices[j] > _LIMIT:
            code, bound = dense_rank(code), n
        stop, prod = j, 1
        while stop < w and bound * prod * radices[stop] <= _LIMIT:
            prod *= radices[stop]
            stop += 1
        weights, acc = [], 1
        for r in reversed(radices[j:stop]):
            weights.append(acc)
            acc *= r
        weights.reverse()
        if stop - j == 1:
            part = digits[..., j]
        else:
            scale = torch.tensor(weights, dtype=torch.int64, device=digits.device)
            part = (digits[..., j:stop] * scale).sum(-1)
        code = part if code is None else code * prod + part
        bound *= prod
        j = stop
    if code is None:
        code = digits.new_zeros((s, n), dtype=torch.int64)
    return code, bound


def entropy_sorted(ordered: torch.Tensor) -> torch.Tensor:
    """Plug-in entropy in bits of each row of sorted codes ``(S, N)``; float64 ``(S,)``.

    .. math:: H = \\frac{1}{N} \\sum_m n_m \\, m \\log_2 \\frac{N}{m}

    where ``n_m`` is the number of distinct symbols seen exactly ``m`` times.
    """
    s, n = ordered.shape
    start = torch.ones_like(ordered, dtype=torch.bool)
    start[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run = start.cumsum(-1) - 1
    device = ordered.device
    if s > 1:
        run = run + torch.arange(s, device=device).unsqueeze(1) * n
    counts = torch.bincount(run.reshape(-1), minlength=s * n).view(s, n)
    if s > 1:
        counts = counts + torch.arange(s, device=device).unsqueeze(1) * (n + 1)
    hist = torch.bincount(counts.reshape(-1), minlength=s * (n + 1)).view(s, n + 1)
    m = torch.arange(n + 1, device=device, dtype=torch.float64)
    weight = m * torch.log2(n / m.clamp(min=1.0))  # m log2(N/m): exactly 0 when m = N
    return (hist.to(torch.float64) * weight).sum(-1) / n


def entropy_counts(counts: torch.Tensor) -> torch.Tensor:
    """Plug-in entropy in bits (float64 scalar tensor) of a 1-D tensor of symbol counts."""
    c = counts[counts > 0].to(torch.float64)
    total = c.sum()
    return (c * torch.log2(total / c)).sum() / total


def joint_entropies(
    code: torch.Tensor, bound: int, labels: torch.Tensor, n_labels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``H(T)`` and ``H(T, Y)`` in bits for codes ``(S, N)`` in ``[0, bound)`` and labels ``(N,)``.

    One sort of the joint code ``code * n_labels + label``: runs of the joint code give
    ``H(T, Y)`` and, since the sort is lexicographic in (T, Y), runs of
    ``joint // n_labels`` give ``H(T)``.
    """
    if bound * n_labels > _LIMIT:
        code = dense_rank(code)
    ordered = torch.sort(code * n_labels + labels, dim=-1).values
    h_t = entropy_sorted(torch.div(ordered, n_labels, rounding_mode="floor"))
    return h_t, entropy_sorted(ordered)


def bin_digits(
    a: torch.Tensor, method: str, bins: int, low: float, high: float, width: float
) -> tuple[torch.Tensor, list[int]]:
    """Bin indices (digits) and radices for float64 activations ``a`` of shape ``(S, N, w)``.

    * ``binning``: ``floor((a - low) / (high - low) * bins)`` clamped to ``[0, bins - 1]``.
    * ``binning-width``: ``floor(a / width)``, unbounded.
    * ``binning-adaptive``: as ``binning`` with ``[low, high]`` = each seed's own
      ``[min, max]`` over all samples and units.
    """
    s, n, w = a.shape
    if method == "binning-width":
        return _columns_to_digits(torch.floor(a / width))
    if method == "binning-adaptive":
        if a.numel() == 0:
            return a.new_zeros((s, n, w), dtype=torch.int64), [bins] * w
        lo = a.amin(dim=(1, 2), keepdim=True)
        span = a.amax(dim=(1, 2), keepdim=True) - lo
        span = torch.where(span > 0, span, torch.ones_like(span))
        idx = torch.floor((a - lo) / span * bins)
    else:
        idx = torch.floor((a - low) / (high - low) * bins)
    return idx.clamp_(0, bins - 1).to(torch.int64), [bins] * w


def row_ids(rows: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Dense ids ``(M,)`` of the rows of an int64 matrix ``(M, c)`` and how many there are."""
    if rows.shape[0] == 0:
        return rows.new_zeros((0,), dtype=torch.int64), 0
    digits, radices = _columns_to_digits(rows.unsqueeze(0))
    code, _ = combine(digits, radices)
    ids = dense_rank(code)[0]
    return ids, int(ids.max()) + 1


def merge_counts(
    keys: torch.Tensor | None, counts: torch.Tensor | None, rows: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Add the rows ``(M, c)`` of a batch to a table of distinct rows ``keys`` with ``counts``."""
    ones = torch.ones(rows.shape[0], dtype=torch.int64, device=rows.device)
    if keys is not None:
        rows = torch.cat([keys, rows])
        ones = torch.cat([counts, ones])
    ids, m = row_ids(rows)
    merged = torch.zeros(m, dtype=torch.int64, device=rows.device).index_add_(0, ids, ones)
    table = rows.new_empty((m, rows.shape[1]))
    table[ids] = rows  # duplicate ids carry identical rows
    return table, merged


def marginal_counts(keys: torch.Tensor, counts: torch.Tensor, columns: slice) -> torch.Tensor:
    """Counts of the distinct values of ``keys[:, columns]``, summing ``counts``."""
    ids, m = row_ids(keys[:, columns].contiguous())
    return torch.zeros(m, dtype=torch.int64, device=keys.device).index_add_(0, ids, counts)
