"""Vectorised fits of eigenvalue spectra: continuous power law (CSN) and Marchenko-Pastur.

Private helpers of :mod:`deepscope.lenses.spectra`. Everything works on 1-D float64 torch
tensors on the eigenvalues' device; no Python loop runs over candidate ``xmin`` values or
over candidate MP scales.
"""

from __future__ import annotations

import math

import torch

#: Working-memory budget (elements) of one chunk of the (candidates x n) KS computation.
_KS_CHUNK_ELEMENTS = 1 << 22

#: Grid of the kernel density estimate the MP scale is fitted to (WeightWatcher's choice).
_KDE_POINTS = 1000
_KDE_FLOOR = 0.01
_PENALTY = 1000.0


def power_law_candidates(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """MLE exponent and KS distance for every candidate ``xmin`` of sorted positive ``x``.

    Candidates are the distinct values of ``x`` except the largest. For the candidate at
    sorted position ``i`` with ``n_i = n - i`` tail values,

    .. math:: \\hat\\alpha_i = 1 + n_i \\Big/ \\sum_{j \\ge i} \\ln(x_j / x_i)

    from suffix sums of ``ln x`` (all candidates at once), and the KS distance compares
    the fitted CDF :math:`1 - (x/x_i)^{1-\\hat\\alpha_i}` with the empirical CDF of the tail
    at its distinct values, ``(#tail values < x) / n_i`` (the convention of the
    ``powerlaw`` package and WeightWatcher). The (candidates x n) comparison runs in
    chunks of candidates.

    Args:
        x: ascending float64 tensor of positive values.

    Returns:
        ``index`` (position of each candidate), ``xmin``, ``alpha``, ``D``, ``n_tail``.
    """
    n = x.numel()
    dev = x.device
    logx = torch.log(x)
    suffix = torch.flip(torch.cumsum(torch.flip(logx, (0,)), 0), (0,))
    pos = torch.arange(n, device=dev)
    # first occurrence of each value: the empirical CDF counts values strictly below
    first = torch.searchsorted(x, x, right=False)
    is_first = first == pos
    idx = pos[is_first]
    idx = idx[x[idx] < x[-1]]  # not the largest value (its tail is a single point)
    n_tail = (n - idx).to(x.dtype)
    denom = suffix[idx] - n_tail * logx[idx]
    alpha = 1.0 + n_tail / denom
    D = torch.ones_like(alpha)
    rows = max(1, _KS_CHUNK_ELEMENTS // max(n, 1))
    firstf = first.to(x.dtype)
    for start in range(0, idx.numel(), rows):
        sl = slice(start, start + rows)
        i0 = idx[sl]
        lo = int(i0[0])
        cols = pos[lo:]
        a = alpha[sl, None]
        ratio = logx[None, lo:] - logx[i0, None]           # ln(x_j / x_i)
        theo = -torch.expm1((1.0 - a) * ratio)              # 1 - (x_j/x_i)^(1-a)
        emp = (firstf[None, lo:] - i0[:, None].to(x.dtype)) / n_tail[sl, None]
        diff = (theo - emp).abs()
        diff = torch.where(cols[None, :] >= i0[:, None], diff, torch.zeros((), dtype=x.dtype,
                                                                                device=dev))
        D[sl] = diff.amax(dim=1)
    D = torch.where(alpha > 1.0, D, torch.ones_like(D))
    return {"index": idx, "xmin": x[idx], "alpha": alpha, "D": D, "n_tail": n_tail}


def power_law_fixed(x: torch.Tensor, xmin: float) -> dict[str, torch.Tensor]:
    """MLE exponent and KS distance of the tail ``x >= xmin`` for a given ``xmin``."""
    tail = x[x >= xmin]
    n = tail.numel()
    logr = torch.log(tail / xmin)
    alpha = 1.0 + n / logr.sum()
    first = torch.searchsorted(tail, tail, right=False).to(x.dtype)
    theo = -torch.expm1((1.0 - alpha) * logr)
    D = (theo - first / n).abs().amax()
    if not bool(alpha > 1.0):
        D = torch.ones_like(D)
    return {"xmin": torch.tensor([float(xmin)], dtype=x.dtype, device=x.device),
            "alpha": alpha.reshape(1), "D": D.reshape(1),
            "n_tail": torch.tensor([float(n)], dtype=x.dtype, device=x.device)}


# ----------------------------------------------------------------------- Marchenko-Pastur


def mp_density(x: torch.Tensor, q: float, sigma2: torch.Tensor) -> torch.Tensor:
    """MP density of eigenvalues for aspect ratio ``q = N/M >= 1`` and scales ``sigma2``.

    .. math:: \\rho(\\lambda) = \\frac{q}{2\\pi\\sigma^2\\lambda}
              \\sqrt{(\\lambda_+ - \\lambda)(\\lambda - \\lambda_-)},\\quad
              \\lambda_\\pm = \\sigma^2 (1 \\pm q^{-1/2})^2

    ``sigma2`` broadcasts against ``x`` (e.g. ``(S, 1)`` against ``(G,)``); zero outside
    the support.
    """
    r = 1.0 / math.sqrt(q)
    lo = sigma2 * (1.0 - r) ** 2
    hi = sigma2 * (1.0 + r) ** 2
    inside = (x > lo) & (x < hi)
    val = q * torch.sqrt(((hi - x) * (x - lo)).clamp_min(0.0)) / (
        2.0 * math.pi * sigma2 * x.clamp_min(1e-300))
    return torch.where(inside, val, torch.zeros((), dtype=val.dtype, device=val.device))


def quarter_circle_density(s: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Density of singular values of a square random matrix: ``sqrt(4 sigma^2 - s^2)/(pi sigma^2)``."""
    val = torch.sqrt((4.0 * sigma * sigma - s * s).clamp_min(0.0)) / (math.pi * sigma * sigma)
    return torch.where((s >= 0) & (s < 2.0 * sigma), val,
                       torch.zeros((), dtype=val.dtype, device=val.device))


def linear_kde(data: torch.Tensor, grid: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Kernel density of ``data`` on ``grid`` with the linear (triangular) kernel."""
    out = torch.zeros_like(grid)
    rows = max(1, _KS_CHUNK_ELEMENTS // max(data.numel(), 1))
    for start in range(0, grid.numel(), rows):
        g = grid[start:start + rows, None]
        out[start:start + rows] = (1.0 - (g - data[None, :]).abs() / bandwidth).clamp_min(
            0.0).sum(1)
    return out / (data.numel() * bandwidth)


def _mp_objective(sig: torch.Tensor, xde: torch.Tensor, yde: torch.Tensor, q: float
                  ) -> torch.Tensor:
    """Sum of squared residuals (MP or quarter circle vs the KDE) for every scale in ``sig``."""
    s = sig[:, None]
    peak = xde[torch.argmax(yde)]
    if q == 1.0:
        fit = quarter_circle_density(xde[None, :], s)
        top = 2.0 * s[:, 0]
        bad = (top < peak) | (top > xde[-1])
    else:
        fit = mp_density(xde[None, :], q, s * s)
        r = 1.0 / math.sqrt(q)
        top = (s[:, 0] * (1.0 + r)) ** 2
        bottom = (s[:, 0] * (1.0 - r)) ** 2
        bad = (top < peak) | (top > xde[-1]) | (bottom > peak)
    sse = ((fit - yde[None, :]) ** 2).sum(1)
    return torch.where(bad, torch.full_like(sse, _PENALTY ** 2 * xde.numel()), sse)


def marchenko_pastur(evals: torch.Tensor, q: float, m: int, bandwidth: float
                     ) -> dict[str, float]:
    """Fit the MP bulk scale to ascending eigenvalues; count the spikes above the bulk.

    The eigenvalues are rescaled to mean 1; a linear-kernel density estimate (bandwidth
    ``bandwidth``, on 1000 points of ``[0, max + 0.5]``, points below density 0.01 dropped)
    is matched in least squares by the MP law (eigenvalues; the quarter-circle law of the
    singular values when ``q == 1``) over 195 scales ``sigma`` in ``[0.05, 2) sigma_0``,
    ``sigma_0 = sqrt(lambda_max) / (1 + q^{-1/2})``, then on a 41-point grid around the
    best one. This is WeightWatcher's MP fit, evaluated for all scales at once. Spikes
    are eigenvalues above ``lambda_+ + sqrt(q^{-1/2} lambda_+^{2/3} m^{-2/3})`` (its
    Tracy-Widom margin).
    """
    scale = float(evals.mean())
    x = evals / scale
    to_fit = x.clamp_min(0.0).sqrt() if q == 1.0 else x
    top = float(to_fit[-1])
    xde = torch.linspace(0.0, top + 0.5, _KDE_POINTS, dtype=x.dtype, device=x.device)
    yde = linear_kde(to_fit, xde, bandwidth)
    keep = yde > _KDE_FLOOR
    xde, yde = xde[keep], yde[keep]
    r = 1.0 / math.sqrt(q)
    s0 = math.sqrt(float(x[-1])) / (1.0 + r)
    coarse = torch.arange(0.05, 2.0 - 1e-9, 0.01, dtype=x.dtype, device=x.device) * s0
    obj = _mp_objective(coarse, xde, yde, q)
    best = float(coarse[torch.argmin(obj)])
    fine = best + torch.linspace(-0.01, 0.01, 41, dtype=x.dtype, device=x.device) * s0
    fine = fine[fine > 0]
    obj_f = _mp_objective(fine, xde, yde, q)
    sigma = float(fine[torch.argmin(obj_f)])
    if float(obj_f.min()) >= _PENALTY ** 2 * xde.numel():
        sigma = best
    bulk_max = (sigma * (1.0 + r)) ** 2
    bulk_min = (sigma * (1.0 - r)) ** 2
    margin = math.sqrt(r * bulk_max ** (2.0 / 3.0) * m ** (-2.0 / 3.0))
    n_spikes = int((x > bulk_max + margin).sum())
    return {
        "sigma_mp": sigma,
        "bulk_variance": sigma * sigma * scale,
        "bulk_min": bulk_min * scale,
        "bulk_max": bulk_max * scale,
        "tw_margin": margin * scale,
        "n_spikes": n_spikes,
        "mp_softrank": bulk_max / float(x[-1]),
        "scale": scale,
    }
