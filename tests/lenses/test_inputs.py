"""Input checks shared by the lenses that take (model, loss_fn, data): one clear line."""

import pytest
import torch
import torch.nn.functional as F

from deepscope.errors import DeepscopeError
from deepscope.lenses import curvature, landscape


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def test_mismatched_x_y_lengths_are_one_line():
    net, x, y = _net(), torch.randn(8, 3), torch.zeros(7, dtype=torch.long)
    with pytest.raises(DeepscopeError, match="has 8 inputs but 7 targets") as info:
        curvature.hessian_trace(net, F.cross_entropy, (x, y), seed=0)
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(DeepscopeError, match="has 8 inputs but 7 targets"):
        landscape.interpolate(net, _net(), F.cross_entropy, (x, y), steps=3)
