"""Partition function: exact enumeration against brute force, AIS against exact (known answers)."""

import itertools
import math

import pytest
import torch

import deepscope as ds
from deepscope.errors import DeepscopeError

pf = ds.lenses.energy.partition_function


def _rbm(nv, nh, visible="bernoulli", seed=0, std=0.5):
    g = torch.Generator().manual_seed(seed)
    rbm = ds.nets.RBM(nv, nh, visible=visible, init_std=std, generator=g)
    with torch.no_grad():
        rbm.b.normal_(0, std, generator=g)
        rbm.c.normal_(0, std, generator=g)
    return rbm


@pytest.mark.parametrize("visible", ["bernoulli", "spin"])
@pytest.mark.parametrize("shape", [(7, 5), (5, 7)])
def test_exact_matches_the_sum_over_every_joint_state(visible, shape):
    nv, nh = shape
    rbm = _rbm(nv, nh, visible)
    vals = [-1.0, 1.0] if visible == "spin" else [0.0, 1.0]
    v = torch.tensor(list(itertools.product(vals, repeat=nv)))
    h = torch.tensor(list(itertools.product([0.0, 1.0], repeat=nh)))
    E = rbm.energy(v.repeat_interleave(len(h), 0), h.repeat(len(v), 1)).detach().double()
    z = pf(rbm, "exact")
    assert z.log_z == pytest.approx(float(torch.logsumexp(-E, 0)), abs=1e-4)
    assert z.enumerated == ("hidden" if nh <= nv else "visible")


def test_zero_weights_give_the_closed_form():
    rbm = ds.nets.RBM(10, 6, init_std=0.0)
    assert pf(rbm, "exact").log_z == pytest.approx(16 * math.log(2))
    spin = ds.nets.RBM(10, 6, visible="spin", init_std=0.0)
    assert pf(spin, "exact").log_z == pytest.approx(16 * math.log(2))


@pytest.mark.parametrize("visible", ["bernoulli", "spin"])
def test_ais_within_0_1_nats_of_exact_on_random_rbm(visible):
    # weights N(0, 0.5^2), 20 hidden units: the known answer
    rbm = _rbm(30, 20, visible, seed=3)
    exact = pf(rbm, "exact").log_z
    ais = pf(rbm, "ais", n_chains=100, n_betas=3000, seed=0, reverse=True)
    assert abs(ais.log_z - exact) < 0.1
    assert ais.stderr < 0.1
    assert abs(ais.log_z_upper - exact) < 0.2
    assert ais.log_weights.shape == (100,)


def test_ais_within_0_1_nats_on_rbm_trained_on_digits():
    v = (ds.data.digits(standardize=False).x_train > 0.5).float()
    rbm = ds.nets.RBM(64, 16, init_std=0.01)
    step = ds.nets.ContrastiveDivergence(k=1, seed=0)
    opt = torch.optim.SGD(rbm.parameters(), lr=0.05)
    for epoch in range(5):
        for i in range(0, len(v) - 31, 32):
            step(rbm, v[i:i + 32], opt)
    exact = ds.lenses.energy.log_likelihood(rbm, v, method="exact")
    ais = ds.lenses.energy.log_likelihood(rbm, v, method="ais", n_chains=100, n_betas=3000)
    assert abs(ais.log_z.log_z - exact.log_z.log_z) < 0.1
    assert exact.mean > 64 * math.log(0.5) + 10  # well above the uniform model


def test_same_seed_same_estimate_and_model_untouched():
    rbm = _rbm(8, 4)
    before = {k: t.clone() for k, t in rbm.state_dict().items()}
    a, b = pf(rbm, "ais", n_betas=200, seed=5), pf(rbm, "ais", n_betas=200, seed=5)
    assert a.log_z == b.log_z and a.seed == 5
    assert all(torch.equal(before[k], t) for k, t in rbm.state_dict().items())
    assert rbm.W.grad is None
    assert list(a.tidy().columns) == ["layer", "metric", "value"]
    assert len(a.to_frame()) == 1


def test_errors_name_the_parameter():
    rbm = _rbm(40, 30)
    with pytest.raises(DeepscopeError, match="'method'"):
        pf(rbm, "exact")
    with pytest.raises(DeepscopeError, match="'method'"):
        pf(rbm, "magic")
    with pytest.raises(DeepscopeError, match="'n_betas'"):
        pf(rbm, "ais", n_betas=1)
    with pytest.raises(DeepscopeError, match="'rbm'"):
        pf(torch.nn.Linear(2, 2))
    with pytest.raises(DeepscopeError, match="'data'"):
        ds.lenses.energy.log_likelihood(rbm, torch.ones(3, 5))
