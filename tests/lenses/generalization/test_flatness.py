"""PAC-Bayes flatness against its closed form on a quadratic; gradient noise by brute force."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.lenses import generalization as gen


def _least_squares(d: int = 6, n: int = 40, seed: int = 0):
    """A linear model at the least-squares minimum: L(w) = |Xw - y|^2 / (2n), Hessian X^T X / n."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    lin = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(torch.linalg.lstsq(x, y[:, None]).solution.T)

    def loss(out, t):
        return 0.5 * ((out[:, 0] - t) ** 2).mean()
    return lin, loss, (x, y), x.T @ x / n


def test_pac_bayes_sigma_matches_the_quadratic_closed_form():
    lin, loss, data, hess = _least_squares()
    r = gen.pac_bayes_flatness(lin, loss, data, target_increase=0.1, n_draws=400, repeats=4,
                               chunk=400, seed=3)
    # E[L(w + sigma z)] = L(w) + sigma^2 tr(A) / 2 at the minimum
    expected = math.sqrt(2 * 0.1 / float(torch.trace(hess)))
    assert r.complete and r.sigma == pytest.approx(expected, rel=0.03)
    assert 0 < r.spread < 0.05 * r.sigma and r.sigmas.shape == (4,)
    assert r.measure == pytest.approx(1 / r.sigma ** 2)


def test_pac_bayes_magnitude_aware_closed_form():
    lin, loss, data, hess = _least_squares(seed=1)
    w = lin.weight.detach()[0]
    r = gen.pac_bayes_flatness(lin, loss, data, target_increase=0.05, scale="magnitude",
                               epsilon=0.0, n_draws=400, repeats=4, chunk=400, seed=0)
    # u_i = alpha |w_i| z_i: E[increase] = alpha^2 sum_i A_ii w_i^2 / 2
    expected = math.sqrt(2 * 0.05 / float((torch.diagonal(hess) * w ** 2).sum()))
    assert r.sigma == pytest.approx(expected, rel=0.03)


def test_pac_bayes_is_seeded_and_leaves_the_model_alone():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    net.train()
    before = copy.deepcopy(net.state_dict())
    kw = dict(target_increase=0.1, n_draws=4, repeats=2, steps=8)
    a = gen.pac_bayes_flatness(net, nn.functional.cross_entropy, (x, y), seed=5, **kw)
    b = gen.pac_bayes_flatness(net, nn.functional.cross_entropy, [(x[:16], y[:16]),
                                                                  (x[16:], y[16:])], seed=5, **kw)
    assert a.sigma == pytest.approx(b.sigma, rel=1e-5)  # batches weigh by size
    assert gen.pac_bayes_flatness(net, nn.functional.cross_entropy, (x, y), seed=5,
                                  **kw).tidy().equals(a.tidy())
    assert net.training and all(p.grad is None for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_pac_bayes_flat_loss_is_marked_incomplete():
    lin = nn.Linear(2, 1)
    r = gen.pac_bayes_flatness(lin, lambda o, t: (o * 0).sum(), (torch.ones(3, 2), torch.ones(3)),
                               n_draws=1, repeats=1, steps=1)
    assert not r.complete and r.spread == 0.0


def test_gradient_noise_against_a_loop_of_autograd_gradients():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    x, y = torch.randn(40, 5, dtype=torch.float64), torch.randint(0, 2, (40,))
    r = gen.gradient_noise(net, nn.functional.cross_entropy, (x, y), batch_size=8, seed=2)
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(2))
    grads = []
    for i in range(5):
        m = copy.deepcopy(net)
        idx = perm[i * 8:(i + 1) * 8]
        nn.functional.cross_entropy(m(x[idx]), y[idx]).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in m.parameters()]))
    g = torch.stack(grads)
    mean = g.mean(0)
    assert r.variance == pytest.approx(float(((g - mean) ** 2).sum(1).mean()), rel=1e-10)
    assert r.mean_norm_sq == pytest.approx(float(mean @ mean), rel=1e-10)
    assert r.layer_variance.sum() == pytest.approx(r.variance)
    assert r.n_batches == 5 and all(p.grad is None for p in net.parameters())


def test_flatness_bad_arguments_name_the_parameter():
    net = nn.Linear(2, 2)
    data = (torch.randn(8, 2), torch.zeros(8).long())
    ce = nn.functional.cross_entropy
    for kw, name in [({"target_increase": 0}, "target_increase"), ({"scale": "log"}, "scale"),
                     ({"n_draws": 0}, "n_draws"), ({"seed": -1}, "seed")]:
        with pytest.raises(DeepscopeError, match=f"'{name}' parameter of pac_bayes_flatness"):
            gen.pac_bayes_flatness(net, ce, data, **kw)
    with pytest.raises(DeepscopeError, match="'data' parameter of gradient_noise"):
        gen.gradient_noise(net, ce, data, batch_size=8)
    with pytest.raises(DeepscopeError, match="'loss_fn' parameter of gradient_noise"):
        gen.gradient_noise(net, "ce", data)


def test_sharpness_is_the_landscape_lens():
    from deepscope.lenses import landscape

    assert gen.sharpness is landscape.sharpness and gen.Sharpness is landscape.Sharpness
    assert np.isfinite(gen.sharpness(nn.Linear(2, 2), nn.functional.cross_entropy,
                                     (torch.randn(8, 2), torch.zeros(8).long()), steps=2).value)
