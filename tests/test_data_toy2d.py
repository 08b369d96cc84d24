"""Tests of the 2-D toy tasks (moons, spirals)."""

from __future__ import annotations

import math

import pytest
import torch

from deepscope.data import moons, spirals
from deepscope.errors import DeepscopeError


@pytest.mark.parametrize("make", [moons, spirals])
def test_shapes_balance_and_determinism(make):
    x, y = make(101, 0.1, 3)
    assert x.shape == (101, 2) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert int((y == 0).sum()) == 50 and int((y == 1).sum()) == 51
    x2, y2 = make(101, 0.1, 3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = make(101, 0.1, 4)
    assert not torch.equal(x, x3)
    assert make(10, 0.0, 0, dtype=torch.float64)[0].dtype == torch.float64


def test_noise_free_moons_lie_on_their_half_circles():
    x, y = moons(200, 0.0, 0, dtype=torch.float64)
    up, low = x[y == 0], x[y == 1]
    torch.testing.assert_close(up.norm(dim=1), torch.ones(100, dtype=torch.float64))
    assert bool((up[:, 1] >= -1e-12).all())
    shifted = low - torch.tensor([1.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(shifted.norm(dim=1), torch.ones(100, dtype=torch.float64))
    assert bool((shifted[:, 1] <= 1e-12).all())


def test_noise_free_spiral_arms_are_point_reflections():
    x, y = spirals(200, 0.0, 0, turns=2.0, dtype=torch.float64)
    a, b = x[y == 0], x[y == 1]
    # arm 1 is arm 0 rotated by pi: the sets are negatives of each other
    key = lambda t: sorted(map(tuple, t.round(decimals=9).tolist()))  # noqa: E731
    assert key(a) == key(-b)
    r = a.norm(dim=1)
    assert math.isclose(float(r.min()), 0.1) and math.isclose(float(r.max()), 1.0)


def test_noise_has_the_requested_scale():
    clean, _ = moons(4000, 0.0, 1, dtype=torch.float64)
    noisy, _ = moons(4000, 0.2, 1, dtype=torch.float64)
    # same shuffle (the noise is drawn before the permutation, from the same generator)
    # so compare distributions: the spread of noisy points grows by about the noise
    extra = noisy.var(0).sum() - clean.var(0).sum()
    assert abs(float(extra) - 2 * 0.2**2) < 0.02


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n": 1}, "'n' parameter of moons"),
    ({"noise": -0.1}, "'noise' parameter of moons"),
    ({"seed": -1}, "'seed' parameter of moons"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(DeepscopeError, match=match):
        moons(**kwargs)
    with pytest.raises(DeepscopeError, match="'turns' parameter of spirals"):
        spirals(10, turns=0)
