"""grid_tensor: the brute-force contraction oracle, log space, chunking, generic models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.lenses.tensors import grid_tensor
from deepscope.nets import convac

from tests.lenses.tensors.oracle import contraction

CASES = [
    dict(n_inputs=8, n_templates=2, channels=2),
    dict(n_inputs=8, n_templates=3, channels=(2, 3, 2), pooling="mirror"),
    dict(n_inputs=4, n_templates=3, channels=2, shared=False),
    dict(n_inputs=(2, 4), n_templates=2, channels=3, pooling="mirror"),
    dict(n_inputs=(4, 2), n_templates=2, channels=2, shared=False),
    dict(n_inputs=8, n_templates=2, channels=3, kind="shallow"),
    dict(n_inputs=4, n_templates=3, channels=4, kind="shallow", shared=True),
    dict(n_inputs=(2, 2), n_templates=2, channels=2, space="log", pooling="mirror"),
    dict(n_inputs=4, n_templates=2, channels=3, kind="shallow", space="log"),
]


@pytest.mark.parametrize("kw", CASES, ids=[str(k) for k in range(len(CASES))])
def test_grid_equals_closed_form_contraction(kw):
    net = convac(**kw, in_channels=3, seed=7)
    m = kw["n_templates"]
    templates = torch.randn(m, 3, generator=torch.Generator().manual_seed(1))
    want = contraction(net, templates)
    for method in ("forward", "contraction"):
        grid = grid_tensor(net, templates, method=method)
        got = grid.values.numpy() * np.exp(grid.log_scale)
        assert grid.values.shape == (m,) * net.tree.n_positions
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


def test_log_space_grid_is_rescaled_exp():
    net = convac(8, 2, 2, space="log", seed=3)
    grid = grid_tensor(net, torch.eye(2))
    assert grid.log_output and grid.values.max() == 1.0
    x = torch.eye(2)[torch.zeros(1, 8, dtype=torch.long)].transpose(1, 2)
    assert grid.values.reshape(-1)[0].item() == pytest.approx(
        float(torch.exp(net(x).detach().double()[0, 0] - grid.log_scale)), rel=1e-4)


def test_chunking_and_dtype_do_not_change_values():
    net = convac(8, 2, 3, pooling="mirror", seed=1)
    a = grid_tensor(net, torch.eye(2), chunk_size=7, method="forward").values
    b = grid_tensor(net, torch.eye(2), chunk_size=100_000, method="forward").values
    assert torch.equal(a, b)
    c = grid_tensor(net, torch.eye(2), dtype=torch.float32, method="forward").values
    torch.testing.assert_close(c, a, rtol=1e-4, atol=1e-6)


def test_generic_model_with_shape_and_output_column():
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 2))
    grid = grid_tensor(model, torch.eye(2), shape=(3,), output=1)
    assert grid.values.shape == (2, 2, 2)
    w, b = model[1].weight.detach().double(), model[1].bias.detach().double()
    # d = (0, 1, 0): channel-first input, channel 0 = (1, 0, 1), channel 1 = (0, 1, 0)
    x = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    assert grid.values[0, 1, 0].item() == pytest.approx(float(w[1] @ x + b[1]))
    frame = grid.to_frame()
    assert len(frame) == 8 and list(frame.columns)[:4] == ["index", "d0", "d1", "d2"]


def test_model_untouched_and_errors():
    net = convac(4, 2, 2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    grid_tensor(net, torch.eye(2))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None and p.dtype == torch.float32 for p in net.parameters())
    with pytest.raises(DeepscopeError, match="'shape'"):
        grid_tensor(nn.Linear(2, 1), torch.eye(2))
    with pytest.raises(DeepscopeError, match="'max_entries'"):
        grid_tensor(convac(16, 2, 2), torch.eye(2), max_entries=1000)
    with pytest.raises(DeepscopeError, match="'templates'"):
        grid_tensor(net, torch.eye(2)[0])
    for method in ("forward", "contraction"):
        with pytest.raises(DeepscopeError, match="'output'"):
            grid_tensor(net, torch.eye(2), output=1, method=method)
    with pytest.raises(DeepscopeError, match="'method'"):
        grid_tensor(nn.Linear(4, 1), torch.eye(2), shape=(2,), method="contraction")
