"""Pairwise-distance (KDE) bounds of Kolchinsky & Tracey (2017) against known answers."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from deepscope.lenses.information import kde as _kde
from deepscope.lenses.information import (
    information_plane,
    information_plane_stacked,
    mutual_information,
    mutual_information_bounds,
)

LN2 = math.log(2.0)


def _exact_mixture_mi(points, sigma2):
    """I(X;T) in bits for T = h_X + N(0, sigma2), X uniform: H(T) by quadrature - H(T|X)."""

    def density(t):
        kernel = np.exp(-((t - points) ** 2) / (2 * sigma2))
        return np.mean(kernel) / math.sqrt(2 * math.pi * sigma2)

    def integrand(t):
        p = density(t)
        return -p * math.log(p) if p > 0 else 0.0

    pad = 12 * math.sqrt(sigma2)
    breaks = np.sort(points)
    h_t, _ = integrate.quad(integrand, breaks[0] - pad, breaks[-1] + pad, points=breaks,
                            limit=500, epsabs=1e-11, epsrel=1e-11)
    return (h_t - 0.5 * math.log(2 * math.pi * math.e * sigma2)) / LN2


@pytest.mark.parametrize("sigma2", [0.003, 0.05, 0.5])
def test_bounds_bracket_exact_mixture_entropy(sigma2):
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.uniform(-1, 1, 15), [0.3, 0.3, 0.31]])
    out = information_plane_stacked(points[None, :, None], np.zeros(18, dtype=int),
                                    method="kde", noise_variance=sigma2)
    exact = _exact_mixture_mi(points, sigma2)
    assert 0.0 < out.i_xt_lower.item() <= exact + 1e-7
    assert exact <= out.i_xt.item() + 1e-7
    assert out.i_xt.item() <= math.log2(18)


@pytest.mark.parametrize("d", [1, 2])
def test_gaussian_channel_large_n_limits(d):
    # h ~ N(0, s^2 I_d), noise sigma^2: the true I(H;T) = d/2 log2(1 + s^2/sigma^2). As N grows
    # (1/N)sum_j exp(-|h_i-h_j|^2/(2 tau)) -> sqrt(tau/(tau+s^2))^d exp(-|h_i|^2/(2(tau+s^2))),
    # so the estimate -> d[1/2 ln(1 + s^2/tau) + s^2/(2(tau + s^2))] nats, tau = sigma^2 for the
    # KL (upper) and 4 sigma^2 for the Bhattacharyya (lower) kernel. Spread at N=2000 ~ 0.02 bit.
    s2, sigma2, n = 1.0, 1.0, 2000

    def limit(tau):
        return d * (0.5 * math.log(1 + s2 / tau) + s2 / (2 * (tau + s2))) / LN2

    h = torch.randn(1, n, d, generator=torch.Generator().manual_seed(d), dtype=torch.float64)
    out = information_plane_stacked(h, torch.zeros(n, dtype=torch.long), method="kde",
                                    noise_variance=sigma2)
    true = d / 2 * math.log2(1 + s2 / sigma2)
    assert limit(4 * sigma2) < true < limit(sigma2)
    assert out.i_xt.item() == pytest.approx(limit(sigma2), abs=0.06 * d)
    assert out.i_xt_lower.item() == pytest.approx(limit(4 * sigma2), abs=0.03 * d)


def test_separated_and_coinciding_points():
    far = np.repeat(np.array([[-50.0, 0.0], [50.0, 0.0], [0.0, 50.0], [0.0, -50.0]]), 5, axis=0)
    y = np.repeat([0, 0, 1, 1], 5)
    plane = information_plane({"t": far, "same": np.zeros((20, 2))}, y, method="kde",
                              noise_variance=1.0)
    # four equiprobable far-apart clusters: I(X;T) = 2 bits, I(T;Y) = H(Y) = 1 bit (both bounds)
    assert plane.i_xt.tolist() == pytest.approx([2.0, 0.0], abs=1e-12)
    assert plane.i_xt_lower.tolist() == pytest.approx([2.0, 0.0], abs=1e-12)
    assert plane.i_ty.tolist() == pytest.approx([1.0, 0.0], abs=1e-12)
    assert plane.i_ty_lower.tolist() == pytest.approx([1.0, 0.0], abs=1e-12)
    lo, hi = mutual_information_bounds(far, y, noise_variance=1.0)
    assert (lo, hi) == pytest.approx((1.0, 1.0), abs=1e-12)
    assert mutual_information(far, y, method="kde", noise_variance=1.0) == pytest.approx(1.0)


def test_pairwise_formula_on_two_points():
    # N=2, distance D: upper = -ln((1 + e^{-D/(2s)})/2)/ln2, lower with 8s
    d, s = 0.3, 0.02
    out = information_plane_stacked(np.array([[[0.0], [d]]]), [0, 1], method="kde",
                                    noise_variance=s)
    upper = -math.log((1 + math.exp(-d * d / (2 * s))) / 2) / LN2
    lower = -math.log((1 + math.exp(-d * d / (8 * s))) / 2) / LN2
    assert out.i_xt.item() == pytest.approx(upper, rel=1e-12)
    assert out.i_xt_lower.item() == pytest.approx(lower, rel=1e-12)
    # y = identity of the sample: H(T|Y=y) = 0 for each single-point class, so I(T;Y) = I(X;T)
    assert out.i_ty.item() == pytest.approx(upper, rel=1e-12)


def test_chunked_equals_unchunked_and_stacked_equals_per_seed():
    rng = np.random.default_rng(2)
    h = torch.from_numpy(rng.normal(size=(3, 257, 4)) * np.array([0.05, 0.3, 1.0])[:, None, None])
    labels = torch.from_numpy(rng.integers(0, 3, size=257))
    whole = _kde.kde_bounds(h, labels, 3, 0.01, max_memory_bytes=1 << 40)
    tiny = _kde.kde_bounds(h, labels, 3, 0.01, max_memory_bytes=1)
    assert _kde.chunk_rows(3, 257, 1, 4) == 1
    for key in whole:
        torch.testing.assert_close(whole[key], tiny[key], rtol=1e-12, atol=1e-12)
    stacked = information_plane_stacked(h, labels, method="kde", noise_variance=0.01)
    for s in range(3):
        one = information_plane({"t": h[s]}, labels, method="kde", noise_variance=0.01)
        assert stacked.i_xt[s].item() == pytest.approx(one.i_xt[0], rel=1e-12)
        assert stacked.i_ty_lower[s].item() == pytest.approx(one.i_ty_lower[0], rel=1e-12)


def test_chunk_budget_at_4096():
    rows = _kde.chunk_rows(1, 4096, _kde.MAX_MEMORY_BYTES, _kde._TEMPORARIES)
    assert rows * 4096 * 8 * _kde._TEMPORARIES <= 64 * 2**20
    assert rows >= 64


def _peak_bytes(fn) -> int:
    """Peak resident memory added while ``fn`` runs: Linux's high-water mark (VmHWM), reset
    first through /proc/self/clear_refs, minus the resident memory before the call."""
    import re

    def status(key: str) -> int:
        text = open("/proc/self/status").read()
        return int(re.search(rf"{key}:\s+(\d+) kB", text).group(1)) * 1024

    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak to the current resident size
    base = status("VmRSS")
    fn()
    return status("VmHWM") - base


@pytest.mark.slow
def test_peak_memory_at_4096_stays_within_the_chunk_budget():
    try:
        _peak_bytes(lambda: None)
    except OSError:
        pytest.skip("needs Linux /proc/self/clear_refs to measure a peak")
    h = torch.randn(1, 4096, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.arange(4096) % 2
    limit = 128 * 2**20  # the 64 MiB chunk budget plus slack; one 4096^2 float64 is 128 MiB
    # the control proves the measurement can fail: without chunking the peak exceeds it
    unchunked = _peak_bytes(lambda: _kde.kde_bounds(h, y, 2, 1e-3, max_memory_bytes=1 << 40))
    assert unchunked > limit
    chunked = _peak_bytes(lambda: information_plane_stacked(h, y, method="kde",
                                                            noise_variance=1e-3))
    assert chunked < limit, f"peak {chunked / 2**20:.0f} MiB"
