"""RBM: energies against brute force, conditionals, CD / PCD training (known answers first)."""

import itertools
import math

import pytest
import torch

import deepscope as ds
from deepscope.errors import DeepscopeError


def _rbm(nv, nh, visible, seed=0, std=0.5):
    g = torch.Generator().manual_seed(seed)
    rbm = ds.nets.RBM(nv, nh, visible=visible, init_std=std, generator=g)
    with torch.no_grad():
        rbm.b.normal_(0, std, generator=g)
        rbm.c.normal_(0, std, generator=g)
    return rbm


def _states(n, spin):
    vals = [-1.0, 1.0] if spin else [0.0, 1.0]
    return torch.tensor(list(itertools.product(vals, repeat=n)))


@pytest.mark.parametrize("visible", ["bernoulli", "spin"])
def test_free_energy_sums_out_hidden_units(visible):
    rbm = _rbm(5, 4, visible)
    v = _states(5, visible == "spin")
    h = _states(4, False)
    E = rbm.energy(v.repeat_interleave(len(h), 0), h.repeat(len(v), 1)).reshape(len(v), len(h))
    brute = -torch.logsumexp(-E.double(), 1)
    assert torch.allclose(rbm.free_energy(v).double(), brute, atol=1e-5)
    # and the visible units summed out
    Eh = E.T
    assert torch.allclose(rbm.free_energy_hidden(h).double(),
                          -torch.logsumexp(-Eh.double(), 1), atol=1e-5)


@pytest.mark.parametrize("visible", ["bernoulli", "spin"])
def test_conditionals_match_brute_force(visible):
    rbm = _rbm(4, 3, visible, seed=1)
    v = _states(4, visible == "spin")
    h = _states(3, False)
    with torch.no_grad():
        E = rbm.energy(v.repeat_interleave(len(h), 0), h.repeat(len(v), 1)).reshape(len(v), -1)
        p_h_given_v = torch.softmax(-E, 1)  # rows: v, cols: h
        marg = (p_h_given_v * h[None, :, 0]).sum(1)
        assert torch.allclose(rbm.hidden_prob(v)[:, 0], marg, atol=1e-5)
        p_v_given_h = torch.softmax(-E.T, 1)
        up = (p_v_given_h * (v[None, :, 0] == 1)).sum(1)
        assert torch.allclose(rbm.visible_prob(h)[:, 0], up, atol=1e-5)


def test_gibbs_runs_many_chains_and_is_seeded():
    rbm = _rbm(6, 3, "spin")
    a = rbm.sample(500, 5, seed=3)
    b = rbm.sample(500, 5, seed=3)
    assert a.shape == (500, 6) and torch.equal(a, b)
    assert set(a.unique().tolist()) <= {-1.0, 1.0}


def test_gibbs_chains_reach_the_model_distribution():
    rbm = _rbm(4, 3, "bernoulli", seed=2, std=1.0)
    v = rbm.sample(20000, 30, seed=0)
    states = _states(4, False)
    p = torch.softmax(-rbm.free_energy(states).double(), 0).detach()
    codes = (v * torch.tensor([8, 4, 2, 1.0])).sum(1).long()
    emp = torch.bincount(codes, minlength=16).double() / len(v)
    order = (states * torch.tensor([8, 4, 2, 1.0])).sum(1).long()
    assert torch.allclose(emp[order], p, atol=0.015)


@pytest.mark.parametrize("persistent", [False, True])
def test_cd_training_raises_the_exact_likelihood(persistent):
    gen = torch.Generator().manual_seed(0)
    proto = torch.tensor([[1, 1, 1, 0, 0, 0, 1, 0.0], [0, 0, 0, 1, 1, 1, 0, 1.0]])
    data = proto[torch.randint(0, 2, (256,), generator=gen)]
    flip = torch.rand(data.shape, generator=gen) < 0.05
    data = torch.where(flip, 1 - data, data)
    rbm = ds.nets.RBM(8, 4, init_std=0.1)
    before = ds.lenses.energy.log_likelihood(rbm, data).mean
    step = ds.nets.ContrastiveDivergence(k=1, persistent=persistent, n_chains=64, seed=0)
    opt = torch.optim.SGD(rbm.parameters(), lr=0.1)
    for i in range(300):
        logs = step(rbm, data[(i * 32) % 256:(i * 32) % 256 + 32], opt)
    after = ds.lenses.energy.log_likelihood(rbm, data).mean
    assert set(logs) == {"loss", "free_energy_gap", "reconstruction_error"}
    assert after > before + 1.5
    assert after > 8 * math.log(0.5) + 2
    if persistent:
        assert step.chains.shape == (64, 8)


def test_rbm_errors_name_the_parameter():
    with pytest.raises(DeepscopeError, match="'visible'"):
        ds.nets.RBM(4, 2, visible="gaussian")
    with pytest.raises(DeepscopeError, match="'n_hidden'"):
        ds.nets.RBM(4, 0)
    with pytest.raises(DeepscopeError, match="'v'"):
        ds.nets.RBM(4, 2).free_energy(torch.ones(3, 5))
    with pytest.raises(DeepscopeError, match="'k'"):
        ds.nets.ContrastiveDivergence(k=0)


def test_cd_through_the_shared_training_loop():
    from deepscope.train import fit

    gen = torch.Generator().manual_seed(0)
    data = (torch.rand(200, 6, generator=gen) < 0.3).float()
    rbm = ds.nets.RBM(6, 3)
    step = ds.nets.ContrastiveDivergence(k=2, persistent=True, n_chains=50, seed=0)
    res = fit(rbm, None, (data, data), step_fn=step, lr=0.05, epochs=3, batch_size=20, seed=0)
    assert res.steps == 30 and len(res.losses) == 30
