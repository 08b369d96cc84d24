"""Known answers, invariances and the lens contract of gradient_snr."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from deepscope.errors import DeepscopeError, DeepscopeTypeError, DeepscopeValueError
from deepscope.lenses.gradients.snr import GradientSNRAccumulator, gradient_snr


def _half_mse(out, y):
    return 0.5 * ((out - y) ** 2).mean()


def _linear(w):
    net = nn.Linear(len(w), 1, bias=False).double()
    with torch.no_grad():
        net.weight.copy_(torch.tensor([w], dtype=torch.float64))
    return net


def test_hand_computed_two_batches():
    # w = 0, loss 0.5 (w.x - y)^2: the gradient of an example is -y x.
    # x = (1, 0), y = 1 and 3: gradients (-1, 0), (-3, 0); mean (-2, 0).
    net = _linear([0.0, 0.0])
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    batches = [(x, torch.tensor([[1.0]], dtype=torch.float64)),
               (x, torch.tensor([[3.0]], dtype=torch.float64))]
    res = gradient_snr(net, _half_mse, batches)
    assert res.parameters == ("weight",)
    assert res.signal[0] == pytest.approx(4.0)
    assert res.noise[0] == pytest.approx(1.0)  # ((-1+2)^2 + (-3+2)^2) / 2
    assert res.snr[0] == pytest.approx(4.0)
    assert res.total_snr == pytest.approx(4.0)
    torch.testing.assert_close(res.mean_gradient["weight"],
                               torch.tensor([[-2.0, 0.0]], dtype=torch.float64))
    deb = gradient_snr(net, _half_mse, batches, debias=True)
    assert deb.signal[0] == pytest.approx(3.0) and deb.snr[0] == pytest.approx(3.0)
    assert deb.debias and not res.debias


def test_debiased_signal_is_unbiased_over_repeated_draws():
    # Per-example gradients -y x with x = (1, 0), y ~ N(0.1, 1): |E g|^2 = 0.01, var 1.
    # With B = 20 the plain signal is ~ 0.01 + 1/20; the debiased one averages to 0.01.
    net = _linear([0.0, 0.0])
    gen = torch.Generator().manual_seed(3)
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64).expand(20, 2)
    plain, deb = [], []
    for _ in range(400):
        y = 0.1 + torch.randn(20, 1, generator=gen, dtype=torch.float64)
        plain.append(gradient_snr(net, _half_mse, [(x, y)], per_example=True).signal[0])
        deb.append(gradient_snr(net, _half_mse, [(x, y)], per_example=True,
                                debias=True).signal[0])
    assert np.mean(plain) == pytest.approx(0.06, abs=0.008)
    assert np.mean(deb) == pytest.approx(0.01, abs=0.008)


def test_least_squares_matches_the_closed_form():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(5, generator=gen, dtype=torch.float64)
    net = _linear(w.tolist())
    batches = [(torch.randn(7, 5, generator=gen, dtype=torch.float64),
                torch.randn(7, 1, generator=gen, dtype=torch.float64)) for _ in range(6)]
    # gradient of 0.5 mean (Xw - y)^2 is X^T (X w - y) / m
    grads = np.stack([(X.T @ (X @ w - y[:, 0]) / len(X)).numpy() for X, y in batches])
    mean = grads.mean(0)
    signal = float(mean @ mean)
    noise = float(((grads - mean) ** 2).sum(1).mean())
    res = gradient_snr(net, _half_mse, batches)
    assert res.signal[0] == pytest.approx(signal, rel=1e-10)
    assert res.noise[0] == pytest.approx(noise, rel=1e-10)
    assert res.snr[0] == pytest.approx(signal / noise, rel=1e-10)
    assert res.n_batches == 6 and not res.per_example


def test_identical_batches_have_zero_noise_and_infinite_snr():
    net = _linear([0.3, -0.2])
    b = (torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=torch.float64),
         torch.tensor([[1.0], [0.0]], dtype=torch.float64))
    res = gradient_snr(net, _half_mse, [b, b, b])
    assert res.noise[0] == 0.0 and res.signal[0] > 0
    assert math.isinf(res.snr[0]) and math.isinf(res.total_snr)


def test_zero_gradients_give_nan_snr():
    net = _linear([1.0, 2.0])
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    batches = [(x, x @ torch.tensor([[1.0], [2.0]], dtype=torch.float64))] * 2  # exact fit
    res = gradient_snr(net, _half_mse, batches)
    assert res.signal[0] == 0.0 and res.noise[0] == 0.0 and math.isnan(res.snr[0])


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))


def _data(n_batches=5, m=8, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(m, 4, generator=gen), torch.randint(0, 3, (m,), generator=gen))
            for _ in range(n_batches)]


def test_scaling_the_loss_leaves_the_snr_unchanged():
    net, data = _mlp(), _data()
    a = gradient_snr(net, F.cross_entropy, data)
    b = gradient_snr(net, lambda o, y: 7.0 * F.cross_entropy(o, y), data)
    np.testing.assert_allclose(b.snr, a.snr, rtol=1e-5)
    np.testing.assert_allclose(b.signal, 49 * a.signal, rtol=1e-5)
    assert b.total_snr == pytest.approx(a.total_snr, rel=1e-5)


def test_agrees_with_per_batch_autograd_and_aggregates_modules():
    net, data = _mlp(), _data()
    ref = copy.deepcopy(net)
    grads = []
    for x, y in data:
        ref.zero_grad()
        F.cross_entropy(ref(x), y).backward()
        grads.append({n: p.grad.detach().double().flatten().clone()
                      for n, p in ref.named_parameters()})
    res = gradient_snr(net, F.cross_entropy, data)
    assert res.parameters == ("0.weight", "0.bias", "2.weight", "2.bias")
    for i, name in enumerate(res.parameters):
        g = torch.stack([d[name] for d in grads])
        mean = g.mean(0)
        assert res.signal[i] == pytest.approx(float(mean @ mean), rel=1e-5)
        assert res.noise[i] == pytest.approx(float(((g - mean) ** 2).sum(1).mean()), rel=1e-5)
    assert res.modules == ("0", "2")
    np.testing.assert_allclose(res.module_signal, [res.signal[:2].sum(), res.signal[2:].sum()])
    np.testing.assert_allclose(res.module_noise, [res.noise[:2].sum(), res.noise[2:].sum()])
    assert res.total_snr == pytest.approx(res.signal.sum() / res.noise.sum())
    assert res.of("2") == pytest.approx(res.module_snr[1])
    assert res.of("0.bias") == pytest.approx(res.snr[1])
    frame = res.to_frame()
    assert list(frame.columns) == ["layer", "kind", "signal", "noise", "snr"]
    assert len(frame) == 4 + 2 + 1
    assert set(frame.kind) == {"parameter", "module", "total"}
    tidy = res.tidy()
    assert list(tidy.columns) == ["layer", "kind", "metric", "value"]
    assert len(tidy) == 3 * (4 + 2 + 1)


def test_per_example_equals_batches_of_one():
    net, data = _mlp(), _data(n_batches=2, m=5)
    ones = [(x[i:i + 1], y[i:i + 1]) for x, y in data for i in range(len(x))]
    a = gradient_snr(net, F.cross_entropy, data, per_example=True)
    b = gradient_snr(net, F.cross_entropy, ones)
    assert a.n_batches == b.n_batches == 10 and a.per_example
    np.testing.assert_allclose(a.signal, b.signal, rtol=1e-5)
    np.testing.assert_allclose(a.noise, b.noise, rtol=1e-5)


def test_parameter_subset_and_streaming_accumulator():
    net, data = _mlp(), _data()
    full = gradient_snr(net, F.cross_entropy, data)
    part = gradient_snr(net, F.cross_entropy, data, parameters=["2.weight"])
    assert part.parameters == ("2.weight",) and part.modules == ("2",)
    assert part.snr[0] == pytest.approx(full.snr[2], rel=1e-6)
    acc = GradientSNRAccumulator(net, F.cross_entropy)
    for x, y in data:
        acc.update(x, y)
    np.testing.assert_allclose(acc.compute().snr, full.snr, rtol=1e-12)


def test_bad_arguments_raise_deepscope_errors():
    net, data = _mlp(), _data()
    with pytest.raises(DeepscopeTypeError, match="'model' parameter of gradient_snr"):
        gradient_snr(lambda x: x, F.cross_entropy, data)
    with pytest.raises(DeepscopeTypeError, match="'loss_fn' parameter of gradient_snr"):
        gradient_snr(net, 3, data)
    with pytest.raises(DeepscopeValueError, match="at least 2 batches.*Got 1"):
        gradient_snr(net, F.cross_entropy, data[:1])
    with pytest.raises(DeepscopeValueError, match="'parameters' parameter of gradient_snr"):
        gradient_snr(net, F.cross_entropy, data, parameters=["fc9.weight"])
    with pytest.raises(DeepscopeValueError, match="'parameters' parameter"):
        gradient_snr(net, F.cross_entropy, data, parameters=[])
    one = gradient_snr(net, F.cross_entropy, data, parameters="0.*")
    assert one.parameters == ("0.weight", "0.bias")
    with pytest.raises(DeepscopeValueError, match="must return a scalar"):
        gradient_snr(net, lambda o, y: F.cross_entropy(o, y, reduction="none"), data)
    with pytest.raises(DeepscopeTypeError, match="'batches' parameter"):
        gradient_snr(net, F.cross_entropy, [data[0][0], data[1][0]])
    with pytest.raises(DeepscopeTypeError, match="'batches' parameter"):
        gradient_snr(net, F.cross_entropy, 5)
    with pytest.raises(DeepscopeTypeError, match="'per_example' parameter"):
        gradient_snr(net, F.cross_entropy, data, per_example=1)
    bad = [(torch.full((3, 4), float("nan")), torch.zeros(3, dtype=torch.long))] * 2
    with pytest.raises(DeepscopeValueError, match="parameter '0.weight' at batch 0"):
        gradient_snr(net, F.cross_entropy, bad)
    assert issubclass(DeepscopeValueError, DeepscopeError)


def test_plot_gradient_snr_draws_one_bar_per_module():
    from deepscope.plots.gradients import plot_gradient_snr

    res = gradient_snr(_mlp(), F.cross_entropy, _data())
    fig, ax = plot_gradient_snr(res)
    assert len(ax.patches) == 2
    np.testing.assert_allclose([p.get_height() for p in ax.patches], res.module_snr)
    _, ax = plot_gradient_snr(res, level="parameter")
    assert len(ax.patches) == 4
    with pytest.raises(DeepscopeValueError, match="'level' parameter of plot_gradient_snr"):
        plot_gradient_snr(res, level="layer")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    net, data = _mlp(), _data()
    a = gradient_snr(net, F.cross_entropy, data)
    b = gradient_snr(copy.deepcopy(net).cuda(), F.cross_entropy, data)
    assert b.mean_gradient["0.weight"].is_cuda
    np.testing.assert_allclose(a.snr, b.snr, rtol=1e-4)
