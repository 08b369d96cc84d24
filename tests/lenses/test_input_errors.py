"""Inputs a lens cannot use give one DeepscopeError line, never a torch traceback."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deepscope.errors import DeepscopeError
from deepscope.lenses import curvature, gradients


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 4, generator=g), torch.randint(0, 2, (16,), generator=g)


def _mlp(*middle, d=4):
    return torch.nn.Sequential(torch.nn.Linear(d, 8), *middle, torch.nn.Linear(8, 2))


def _square(o, t):
    return ((o[..., 0] - t) ** 2).mean()


@pytest.mark.parametrize("fn", [curvature.hessian_eigs, curvature.hessian_trace])
def test_bad_targets_or_inputs_fail_before_any_derivative(fn):
    x, y = _data()
    with pytest.raises(DeepscopeError, match="the loss failed on the first batch.*Long"):
        fn(_mlp(torch.nn.ReLU()), F.cross_entropy, (x, y.float()))
    with pytest.raises(DeepscopeError, match="the loss failed on the first batch.*dtype"):
        fn(_mlp(torch.nn.ReLU()), F.cross_entropy, (x.long(), y))


@pytest.mark.parametrize("module", [torch.nn.BatchNorm1d(8), torch.nn.Dropout(0.5)])
def test_per_example_work_refuses_batch_coupled_modules_in_training_mode(module):
    x, y = _data()
    model = _mlp(module).train()
    batches = [(x[:8], y[:8]), (x[8:], y[8:])]
    with pytest.raises(DeepscopeError, match=r"module '1' .* training mode.*model.eval\(\)"):
        gradients.gradient_snr(model, F.cross_entropy, batches, per_example=True)
    with pytest.raises(DeepscopeError, match=r"module '1' .* training mode"):
        gradients.parity_gradient_variance(_mlp(module, d=4).train(), _square, 4)
    model.eval()
    gradients.gradient_snr(model, F.cross_entropy, batches, per_example=True)
    gradients.parity_gradient_variance(model, _square, 4)


def test_parity_d_must_match_the_input_width():
    with pytest.raises(DeepscopeError, match="'d' parameter of parity_gradient_variance.*d=6"):
        gradients.parity_gradient_variance(_mlp(torch.nn.ReLU()), _square, 6)
