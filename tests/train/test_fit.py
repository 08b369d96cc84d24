"""Known answers and properties of the one training loop, ``deepscope.train.fit``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.train import fit


def _data(n=64, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.tensor([[1.0], [-2.0], [0.5]])[:d]
    return x, x @ w


def _model(seed=0, d=3):
    g = torch.Generator().manual_seed(seed)
    m = nn.Linear(d, 1)
    with torch.no_grad():
        m.weight.copy_(torch.randn(m.weight.shape, generator=g))
        m.bias.zero_()
    return m


def test_full_batch_gd_equals_closed_form_step():
    x, y = _data()
    m = _model()
    w0 = m.weight.detach().clone()
    fit(m, nn.functional.mse_loss, (x, y), lr=0.1, steps=1)
    # d/dW mean((xW^T + b - y)^2) = 2/n (xW^T + b - y)^T x
    grad = 2 / len(x) * ((x @ w0.T) - y).T @ x
    torch.testing.assert_close(m.weight.detach(), w0 - 0.1 * grad)


def test_converges_and_counts_steps_and_epochs():
    x, y = _data()
    m = _model()
    res = fit(m, nn.functional.mse_loss, (x, y), lr=0.05, epochs=20, batch_size=16)
    assert res.steps == 80 and res.epochs == 20
    assert res.losses[-1] < res.losses[0] / 10


def test_global_rng_untouched_and_same_seed_same_weights():
    x, y = _data()
    models = [_model() for _ in range(3)]  # nn.Linear's own init draws from the global RNG
    state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    runs = []
    for m in models[:2]:
        fit(m, nn.functional.mse_loss, (x, y), lr=0.05, steps=30, batch_size=8, seed=5)
        runs.append(m.weight.detach().clone())
    assert torch.equal(runs[0], runs[1])
    assert torch.equal(torch.random.get_rng_state(), state)
    assert np.array_equal(np.random.get_state()[1], np_state)
    m = models[2]
    fit(m, nn.functional.mse_loss, (x, y), lr=0.05, steps=30, batch_size=8, seed=6)
    assert not torch.equal(m.weight.detach(), runs[0])


def test_resume_is_bit_identical():
    x, y = _data()
    a = _model()
    fit(a, nn.functional.mse_loss, (x, y), optimizer="adam", lr=0.01, steps=25, batch_size=10,
        seed=3)
    b = _model()
    first = fit(b, nn.functional.mse_loss, (x, y), optimizer="adam", lr=0.01, steps=11,
                batch_size=10, seed=3)
    fit(b, nn.functional.mse_loss, (x, y), optimizer="adam", lr=0.01, steps=25, batch_size=10,
        seed=3, resume=first.state)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def test_schedule_on_step_and_early_stop():
    x, y = _data()
    seen = []

    def on_step(step, model, logs):
        seen.append(step)
        return step >= 6

    res = fit(_model(), nn.functional.mse_loss, (x, y), steps=100, schedule=[0, 3, 6, 9],
              on_step=on_step)
    assert seen == [0, 3, 6] and res.stopped and res.steps == 6


def test_custom_step_fn_and_stream():
    calls = []

    def data(step, generator):
        return torch.randn(4, 3, generator=generator)

    def step_fn(model, batch, optimizer):
        calls.append(batch.shape)
        return {"loss": float(batch.sum())}

    res = fit(_model(), None, data, steps=5, step_fn=step_fn, seed=1)
    assert len(calls) == 5 and res.losses.shape == (5,)
    again = fit(_model(), None, data, steps=5, step_fn=step_fn, seed=1)
    np.testing.assert_array_equal(res.losses, again.losses)


def test_dataloader_and_dict_inputs():
    class DictNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 1)

        def forward(self, features):
            return self.lin(features)

    x, y = _data()
    loader = [({"features": x[i:i + 16]}, y[i:i + 16]) for i in range(0, 64, 16)]
    res = fit(DictNet(), nn.functional.mse_loss, loader, epochs=3, lr=0.05)
    assert res.steps == 12 and res.epochs == 3


def test_mode_restored():
    x, y = _data()
    m = _model().eval()
    fit(m, nn.functional.mse_loss, (x, y), steps=2)
    assert not m.training


@pytest.mark.parametrize("kwargs,name", [
    ({"steps": -1}, "steps"), ({"optimizer": "lbfgs", "steps": 1}, "optimizer"),
    ({"batch_size": 1000, "steps": 1}, "batch_size"), ({"lr": -1.0, "steps": 1}, "lr"),
    ({"seed": -3, "steps": 1}, "seed"),
])
def test_bad_arguments(kwargs, name):
    x, y = _data()
    with pytest.raises(DeepscopeError, match=f"'{name}' parameter of fit"):
        fit(_model(), nn.functional.mse_loss, (x, y), **kwargs)


def test_needs_a_budget_and_matching_lengths():
    x, y = _data()
    with pytest.raises(DeepscopeError, match="budget"):
        fit(_model(), nn.functional.mse_loss, (x, y))
    with pytest.raises(DeepscopeError, match="'data' parameter of fit"):
        fit(_model(), nn.functional.mse_loss, (x, y[:10]), steps=1)


def test_engine_without_optimizer_and_resume_by_step():
    class Engine(nn.Module):
        def __init__(self):
            super().__init__()
            self.steps = 0

    seen = []

    def step_fn(model, batch, optimizer):
        assert optimizer is None and batch is None
        model.steps += 1
        return {"loss": float(model.steps)}

    eng = Engine()
    res = fit(eng, None, lambda step, g: None, optimizer=None, step_fn=step_fn, steps=7,
              schedule=[5, 7], on_step=lambda s, m, logs: seen.append(s), resume={"step": 3})
    assert eng.steps == 4 and res.steps == 7 and seen == [5, 7]
    with pytest.raises(DeepscopeError, match="'optimizer' parameter of fit"):
        fit(_model(), nn.functional.mse_loss, _data(), optimizer=None, steps=1)
