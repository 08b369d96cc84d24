"""Ising data: exact enumeration of L = 4, Onsager's T_c by Binder crossing, 1-D decimation."""

import math

import numpy as np
import pytest
import torch

import deepscope as ds
from deepscope.data.ising import integrated_autocorrelation_time
from deepscope.errors import DeepscopeError

TEMPS = [1.5, 2.269, 3.0, 4.5]


def test_exact_enumeration_limits():
    ex = ds.data.ising_exact(2, [1e-3, 1e3])
    # T -> 0: ground state, e = -2 per site, |m| = 1; T -> inf: e -> 0
    assert ex.energy[0] == pytest.approx(-2.0) and ex.abs_m[0] == pytest.approx(1.0)
    assert abs(ex.energy[1]) < 0.01


@pytest.mark.parametrize("algorithm", ["swendsen-wang", "checkerboard"])
def test_sampler_matches_exact_L4(algorithm):
    ex = ds.data.ising_exact(4, TEMPS)
    s = ds.data.ising(4, TEMPS, 4000, seed=0, algorithm=algorithm)
    got = s.to_frame()
    assert s.spins.shape == (4, 4000, 4, 4) and s.spins.dtype == torch.int8
    for col in ("abs_m", "energy"):
        z = (got[col] - ex[col]) / got[f"{col}_stderr"]
        assert np.all(np.abs(z) < 4.5), (col, z.to_numpy())
    assert np.all(s.tau_energy >= 0.5)


def test_seeded_and_shapes():
    a = ds.data.ising(6, 2.5, 10, seed=3)
    b = ds.data.ising(6, 2.5, 10, seed=3)
    assert torch.equal(a.spins, b.spins)
    assert a.spins.shape == (1, 10, 6, 6)
    m = a.spins.float().mean((-1, -2)).numpy()
    assert np.allclose(m, a.magnetisation)


def test_autocorrelation_time_of_ar1():
    rng = np.random.default_rng(0)
    rho, n = 0.8, 20000
    x = np.zeros((8, n))
    for t in range(1, n):
        x[:, t] = rho * x[:, t - 1] + rng.normal(size=8)
    expected = (1 + rho) / (2 * (1 - rho))  # 4.5
    assert integrated_autocorrelation_time(x) == pytest.approx(expected, rel=0.1)


def test_decimation_identity_1d():
    # summing out every other spin of a 1-D chain: tanh K' = tanh^2 K
    for k in (0.3, 0.8, 1.5):
        s = ds.data.ising_chain(64, k, 4000, seed=1)
        d = ds.data.block_spin(s, 2, rule="decimation", dims=1).float()
        corr = float((d[:, :-1] * d[:, 1:]).mean())
        stderr = math.sqrt((1 - corr ** 2) / d[:, :-1].numel())
        assert abs(corr - math.tanh(k) ** 2) < 5 * stderr + 1e-3
        k_prime = math.atanh(corr)
        assert k_prime == pytest.approx(math.atanh(math.tanh(k) ** 2), abs=0.05)


def test_block_spin_majority_and_decimation():
    s = torch.tensor([[1, 1, -1, -1], [1, -1, -1, -1], [1, 1, 1, -1], [1, 1, 1, 1]],
                     dtype=torch.int8)
    maj = ds.data.block_spin(s, 2)
    assert maj.tolist() == [[1, -1], [1, maj[1, 1].item()]] and maj.dtype == torch.int8
    assert ds.data.block_spin(s, 2, rule="decimation").tolist() == [[1, -1], [1, 1]]


def test_errors_name_the_parameter():
    with pytest.raises(DeepscopeError, match="'temperatures'"):
        ds.data.ising(4, [-1.0], 5)
    with pytest.raises(DeepscopeError, match="'algorithm'"):
        ds.data.ising(4, [2.0], 5, algorithm="wolff")
    with pytest.raises(DeepscopeError, match="'L'"):
        ds.data.ising_exact(6, [2.0])
    with pytest.raises(DeepscopeError, match="'spins'"):
        ds.data.block_spin(torch.ones(5, 5), 2)


@pytest.mark.slow
def test_binder_crossing_locates_onsager_tc():
    temps = np.linspace(2.20, 2.34, 8)
    binder = {L: ds.data.ising(L, temps, 3000, seed=L, n_chains=100).binder() for L in (8, 16, 32)}
    grid = np.linspace(temps[0], temps[-1], 1401)
    crossings = []
    for a, b in ((8, 16), (16, 32), (8, 32)):
        # U_a - U_b changes sign at the crossing; a quadratic fit smooths the noise
        diff = np.polyval(np.polyfit(temps - 2.27, binder[a] - binder[b], 2), grid - 2.27)
        change = np.nonzero(np.diff(np.sign(diff)))[0]
        assert change.size, (a, b, binder[a] - binder[b])
        crossings.append(grid[change[np.argmin(np.abs(grid[change] - 2.27))]])
    tc = float(np.mean(crossings))
    assert abs(tc / ds.data.ONSAGER_TC - 1) < 0.01, crossings
