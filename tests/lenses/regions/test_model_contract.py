"""Regions-specific contract: dtypes, unsupported modules and bad input refused with a
DeepscopeError naming the parameter or the module (the model-untouched and same-result checks
are the contract suite's, tests/lenses/test_contract.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.lenses import regions as R
from deepscope.nets import MLP


def test_float32_and_float64_inputs_give_the_same_partition():
    torch.manual_seed(0)
    net = MLP((2, 10, 10, 1), activation="relu")
    p32 = R.regions_in_plane(net, torch.zeros(2), torch.eye(2), (-2, 2, -2, 2))
    p64 = R.regions_in_plane(net, np.zeros(2), np.eye(2, dtype=np.float64), (-2, 2, -2, 2))
    assert p32.count == p64.count
    np.testing.assert_array_equal(p32.areas, p64.areas)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_non_piecewise_linear_modules_are_named(activation):
    net = MLP((2, 4, 1), activation=activation)
    with pytest.raises(DeepscopeError, match=r"module 'act1' \((Tanh|Sigmoid)\)"):
        R.regions_in_plane(net, torch.zeros(2), torch.eye(2), (-1, 1, -1, 1))


def test_gelu_and_untraceable_models_are_refused():
    gelu = nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1))
    with pytest.raises(DeepscopeError, match=r"module '1' \(GELU\)"):
        R.activation_patterns(gelu, torch.zeros(1, 2))

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else -self.fc(x)

    with pytest.raises(DeepscopeError, match="traceable by torch.fx.*Branchy"):
        R.regions_on_segment(Branchy(), torch.zeros(2), torch.ones(2))

    class Squares(nn.Module):
        def forward(self, x):
            return x * x

    with pytest.raises(DeepscopeError, match="product of two activations"):
        R.regions_on_segment(Squares(), torch.zeros(2), torch.ones(2))


def test_bad_arguments():
    net = MLP((2, 4, 1), activation="relu")
    o, d = torch.zeros(2), torch.eye(2)
    with pytest.raises(DeepscopeError, match="The 'bounds' parameter of regions_in_plane"):
        R.regions_in_plane(net, o, d, (1, -1, 0, 1))
    with pytest.raises(DeepscopeError, match="The 'bounds' parameter"):
        R.regions_in_plane(net, o, d, (0, 1, 0))
    with pytest.raises(DeepscopeError, match="The 'directions' parameter"):
        R.regions_in_plane(net, o, torch.eye(3), (0, 1, 0, 1))
    with pytest.raises(DeepscopeError, match="The 'rtol' parameter of regions_on_segment"):
        R.regions_on_segment(net, o, o, rtol=0.5)
    with pytest.raises(DeepscopeError, match="The 'b' parameter of regions_on_segments"):
        R.regions_on_segments(net, torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(DeepscopeError, match="contain NaN"):
        R.activation_patterns(net, torch.tensor([[float("nan"), 0.0]]))
    with pytest.raises(DeepscopeError, match="does not fit the model"):
        R.activation_patterns(net, torch.zeros(3, 5))
    with pytest.raises(DeepscopeError, match="The 'model' parameter"):
        R.count_patterns("not a model", torch.zeros(3, 2))
    with pytest.raises(DeepscopeError, match="The 'p2' parameter of plane_through"):
        R.plane_through(torch.zeros(2), torch.ones(2), 2 * torch.ones(2))
    with pytest.raises(DeepscopeError, match="The 'name' parameter"):
        R.activation_patterns(net, torch.zeros(1, 2)).layer("nope")


def test_patterns_frame_and_zero_length_segment():
    torch.manual_seed(0)
    net = MLP((2, 6, 6, 1), activation="relu")
    pats = R.activation_patterns(net, torch.randn(50, 2))
    frame = pats.to_frame()
    assert frame["layer"].tolist() == ["act1", "act2"]
    assert frame["n_units"].tolist() == [6, 6]
    assert pats.layer("act2").shape == (50, 6)
    many = R.regions_on_segments(net, torch.ones(2, 2), torch.ones(2, 2))
    assert many.counts.tolist() == [1, 1] and many.lengths.tolist() == [0.0, 0.0]
    assert np.isnan(many.to_frame()["regions_per_length"]).all()
    seg = R.regions_on_segment(net, torch.zeros(2), torch.ones(2))
    assert len(seg.to_frame()) == seg.count


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    torch.manual_seed(0)
    net = MLP((2, 32, 32, 1), activation="relu")
    cpu = R.regions_in_plane(net, torch.zeros(2), torch.eye(2), (-2, 2, -2, 2))
    gpu = R.regions_in_plane(net.cuda(), torch.zeros(2, device="cuda"),
                             torch.eye(2, device="cuda"), (-2, 2, -2, 2))
    assert cpu.count == gpu.count
    np.testing.assert_allclose(np.sort(cpu.areas), np.sort(gpu.areas), rtol=1e-9, atol=1e-15)
    seg = R.regions_on_segments(net, torch.zeros(4, 2, device="cuda"),
                                torch.ones(4, 2, device="cuda"))
    assert (seg.counts >= 1).all()
