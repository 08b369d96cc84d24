import pytest
import torch
from torch import nn

import deepscope as ds
from deepscope.errors import DeepscopeError


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Sequential(nn.Linear(4, 2), nn.ReLU()))


def test_capture_all_leaves_in_forward_order_with_exact_values():
    net = _net()
    x = torch.randn(5, 3)
    with ds.capture(net) as acts:
        out = net(x)
    assert list(acts) == ["0", "1", "2.0", "2.1"]
    assert torch.equal(acts["1"], torch.tanh(net[0](x)))
    assert torch.equal(acts["2.1"], out)
    assert not acts["0"].requires_grad


def test_capture_selected_layers_and_hooks_removed_even_on_error():
    net = _net()
    with pytest.raises(RuntimeError):
        with ds.capture(net, layers=["2"]) as acts:
            net(torch.randn(2, 3))
            raise RuntimeError("boom")
    assert list(acts) == ["2"]
    assert all(len(m._forward_hooks) == 0 for m in net.modules())


def test_capture_concatenates_repeated_calls():
    net = _net()
    with ds.capture(net, layers=["1"]) as acts:
        net(torch.randn(2, 3))
        net(torch.randn(3, 3))
    assert acts["1"].shape == (5, 4) and acts.calls["1"] == 2


def test_capture_bad_input():
    with pytest.raises(DeepscopeError, match="unknown module 'nope'"):
        with ds.capture(_net(), layers=["nope"]):
            pass
    with pytest.raises(DeepscopeError, match="must be a torch.nn.Module"):
        with ds.capture("not a model"):
            pass
    with pytest.raises(DeepscopeError, match="'layers' parameter of capture"):
        with ds.capture(_net(), layers="0"):
            pass
