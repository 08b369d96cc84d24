"""Tests of the staircase targets of Shalev-Shwartz et al. (2017), Section 5."""

from __future__ import annotations

import pytest
import torch

from deepscope.data.staircase import staircase, staircase_data
from deepscope.errors import DeepscopeError


def test_staircase_values_and_index():
    u = staircase(4, low=0.0, high=4.0)
    assert u.n_steps == 4
    z = torch.tensor([-1.0, 0.49, 0.5, 1.7, 3.5, 9.0], dtype=torch.float64)
    assert u.index(z).tolist() == [0, 0, 1, 2, 4, 4]
    assert u(z).tolist() == [0.0, 0.0, 1.0, 2.0, 4.0, 4.0]


def test_staircase_rounds_to_within_half_a_step_and_is_monotone():
    u = staircase(55)
    z = torch.linspace(-2.5, 2.5, 10001, dtype=torch.float64)
    width = 5.0 / 55
    assert (u(z) - z).abs().max() <= width / 2 + 1e-12
    assert (torch.diff(u(z)) >= 0).all()
    assert u(z).unique().numel() == 56


def test_smooth_staircase_tends_to_the_staircase():
    u = staircase(10, low=-1.0, high=1.0)
    z = torch.tensor([-0.93, -0.31, 0.22, 0.77], dtype=torch.float64)  # away from the jumps
    assert torch.allclose(u.smooth(z, 1e-4), u(z), atol=1e-9)
    # with a wide temperature the jumps blend into a ramp through the middle step
    mid = u.smooth(torch.tensor([0.0], dtype=torch.float64), 0.05)
    assert abs(float(mid) - 0.0) < 1e-9  # odd symmetry around 0


def test_staircase_data_is_the_target_and_seeded():
    v = torch.randn(100, generator=torch.Generator().manual_seed(0))
    v = v / v.norm() * 100
    d = staircase_data(5000, staircase(), v, 0.3, seed=4)
    assert d.x.shape == (5000, 100)
    assert abs(float(d.x.std()) - 0.01) < 0.001  # randn / 100
    torch.testing.assert_close(d.z, d.x @ v + 0.3)
    assert torch.equal(d.y, d.u(d.z))
    assert abs(float((d.z - 0.3).std()) - 1.0) < 0.05  # v^T x ~ N(0, 1) for ||v|| = 100
    assert torch.equal(staircase_data(5000, staircase(), v, 0.3, seed=4).x, d.x)
    assert not torch.equal(staircase_data(5000, staircase(), v, 0.3, seed=5).x, d.x)


def test_bad_arguments():
    with pytest.raises(DeepscopeError, match="'n_steps' parameter of staircase"):
        staircase(0)
    with pytest.raises(DeepscopeError, match="'high' parameter of staircase"):
        staircase(5, low=1.0, high=0.0)
    with pytest.raises(DeepscopeError, match="'n' parameter of staircase_data"):
        staircase_data(0, staircase(), torch.ones(3), 0.0)
