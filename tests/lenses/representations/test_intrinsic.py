"""Intrinsic dimension: known answers on subspaces and spheres in 100-D, duplicates, interval."""

import math

import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.lenses import representations as rep


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _subspace(n, d, seed, ambient=100):
    z = torch.randn(n, d, generator=_gen(seed), dtype=torch.float64)
    q = torch.linalg.qr(torch.randn(ambient, d, generator=_gen(seed + 1), dtype=torch.float64))[0]
    return z @ q.T


def _sphere(n, d, seed, ambient=100):
    """The unit d-sphere (in R^{d+1}) rotated into R^ambient."""
    z = torch.randn(n, d + 1, generator=_gen(seed), dtype=torch.float64)
    z = z / z.norm(dim=1, keepdim=True)
    q = torch.linalg.qr(torch.randn(ambient, d + 1, generator=_gen(seed + 1),
                                    dtype=torch.float64))[0]
    return z @ q.T


@pytest.mark.parametrize("method,n", [("twonn", 5000), ("mle", 5000), ("gride", 2000)])
@pytest.mark.parametrize("shape", ["subspace", "sphere"])
def test_recovers_dimension_within_ten_percent(method, n, shape):
    d = 6
    x = (_subspace if shape == "subspace" else _sphere)(n, d, 3)
    r = rep.intrinsic_dimension(x, method=method, n_bootstrap=0)
    assert abs(r.dimension - d) / d < 0.10, r.dimension


def test_twonn_mle_closed_form():
    """k = 1 Gride is TwoNN's maximum-likelihood estimate n / sum(log mu)."""
    x = _subspace(300, 3, 0, ambient=10)
    from deepscope.lenses.representations.intrinsic import neighbor_distances
    dist = neighbor_distances(x, 2)
    mu = (dist[:, 1] / dist[:, 0]).numpy()
    r = rep.intrinsic_dimension(x, method="gride", k=1, n_bootstrap=0)
    assert r.dimension == pytest.approx(len(mu) / np.log(mu).sum(), rel=1e-12)


def test_neighbor_distances_match_brute_force():
    x = _subspace(120, 4, 5, ambient=7)
    from deepscope.lenses.representations.intrinsic import neighbor_distances
    d = torch.cdist(x, x)
    d.fill_diagonal_(math.inf)
    want = torch.sort(d, dim=1).values[:, :5]
    torch.testing.assert_close(neighbor_distances(x, 5, chunk=17), want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("method", ["twonn", "mle", "gride"])
def test_duplicates_are_merged(method):
    x = _subspace(1500, 4, 7)
    dup = torch.cat([x, x[:700], x[:50]])[torch.randperm(2250, generator=_gen(0))]
    a = rep.intrinsic_dimension(x, method=method, n_bootstrap=0)
    b = rep.intrinsic_dimension(dup, method=method, n_bootstrap=0)
    assert b.n == 2250 and b.n_unique == 1500 and b.n_duplicates == 750
    assert b.dimension == pytest.approx(a.dimension, rel=1e-9)
    assert math.isfinite(b.dimension)


def test_near_duplicates_are_fine():
    x = _subspace(2000, 5, 9)
    near = torch.cat([x, x[:500] + 1e-9 * torch.randn(500, 100, generator=_gen(1),
                                                      dtype=torch.float64)])
    r = rep.intrinsic_dimension(near, n_bootstrap=0)
    assert math.isfinite(r.dimension) and r.dimension > 0


def test_bootstrap_interval_covers_and_is_seeded():
    x = _sphere(2000, 4, 11)
    r = rep.intrinsic_dimension(x, n_bootstrap=100, seed=3)
    lo, hi = r.interval
    assert lo < r.dimension < hi and lo < 4.4 and hi > 3.6
    assert rep.intrinsic_dimension(x, n_bootstrap=100, seed=3).interval == r.interval
    assert rep.intrinsic_dimension(x, n_bootstrap=100, seed=4).interval != r.interval


def test_errors():
    with pytest.raises(DeepscopeError, match="distinct points"):
        rep.intrinsic_dimension(torch.ones(50, 3))
    with pytest.raises(DeepscopeError, match="'k' parameter"):
        rep.intrinsic_dimension(_subspace(50, 2, 0), method="mle", k=1)
    with pytest.raises(DeepscopeError, match="'seed'"):
        rep.intrinsic_dimension(_subspace(50, 2, 0), seed=-1)
