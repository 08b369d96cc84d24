"""Tests of Telgarsky's sawtooth network and the sawtooth target."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepscope.data import sawtooth
from deepscope.errors import DeepscopeError
from deepscope.nets import sawtooth_net


def test_weights_are_the_papers_construction():
    net = sawtooth_net(3)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert [type(m) for m in net] == [nn.Linear, nn.ReLU] * 3 + [nn.Linear]
    assert [name for name, _ in net.named_children()][:3] == ["fc1", "act1", "fc2"]
    assert linears[0].weight.tolist() == [[1.0], [1.0]] and linears[0].bias.tolist() == [0, -0.5]
    for hidden in linears[1:-1]:
        assert hidden.weight.tolist() == [[2.0, -4.0], [2.0, -4.0]]
        assert hidden.bias.tolist() == [0.0, -0.5]
    assert linears[-1].weight.tolist() == [[2.0, -4.0]] and linears[-1].bias.tolist() == [0.0]
    assert sum(p.numel() for p in net.parameters()) == 6 * 3 + 1


@pytest.mark.parametrize("depth", [1, 2, 5, 10, 16])
def test_net_equals_the_composed_tent_map_on_dyadic_points(depth):
    x = torch.arange(0, 2**depth * 4 + 1, dtype=torch.float64) / (2**depth * 4)
    net = sawtooth_net(depth, dtype=torch.float64)
    out = net(x[:, None])[:, 0]
    torch.testing.assert_close(out, sawtooth(x, depth), rtol=0, atol=0)
    # 2^(L-1) teeth: value 1 at odd multiples of 2^-L, 0 at even ones
    grid = torch.arange(0, 2**depth + 1, dtype=torch.float64) / 2**depth
    expected = (torch.arange(0, 2**depth + 1) % 2).to(torch.float64)
    torch.testing.assert_close(net(grid[:, None])[:, 0], expected, rtol=0, atol=0)


def test_sawtooth_is_the_tent_map_composed():
    x = torch.rand(1000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    tent = torch.where(x <= 0.5, 2 * x, 2 - 2 * x)
    torch.testing.assert_close(sawtooth(x, 1), tent)
    torch.testing.assert_close(sawtooth(x, 3), sawtooth(sawtooth(sawtooth(x, 1), 1), 1))
    torch.testing.assert_close(sawtooth(x, 0), x)
    assert sawtooth(x.float(), 2).dtype == torch.float32
    assert sawtooth(x.reshape(10, 100), 2).shape == (10, 100)


def test_bad_arguments_raise_deepscope_errors():
    with pytest.raises(DeepscopeError, match="'depth' parameter of sawtooth_net"):
        sawtooth_net(0)
    with pytest.raises(DeepscopeError, match="'dtype' parameter of sawtooth_net"):
        sawtooth_net(2, dtype=torch.int64)
    with pytest.raises(DeepscopeError, match=r"'x' parameter of sawtooth must be a tensor with values in \[0, 1\]"):
        sawtooth(torch.tensor([1.5]), 2)
    with pytest.raises(DeepscopeError, match="'x' parameter of sawtooth"):
        sawtooth(torch.tensor([1, 0]), 2)
    with pytest.raises(DeepscopeError, match="'depth' parameter of sawtooth"):
        sawtooth(torch.tensor([0.5]), -1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    x = torch.linspace(0, 1, 33, device="cuda", dtype=torch.float64)
    net = sawtooth_net(4, dtype=torch.float64).cuda()
    torch.testing.assert_close(net(x[:, None])[:, 0], sawtooth(x, 4))
