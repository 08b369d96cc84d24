"""k-NN estimators: KSG (Kraskov et al. 2004) and Ross (2014) against closed forms."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from scipy.special import digamma

from deepscope.lenses.information import ksg as _ksg
from deepscope.lenses.information import (
    information_plane,
    information_plane_stacked,
    mutual_information,
)


def _gaussian_pair(rho, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1))
    return x, rho * x + math.sqrt(1 - rho * rho) * rng.normal(size=(n, 1))


@pytest.mark.parametrize("rho", [0.6, 0.9])
def test_ksg_correlated_gaussians(rho):
    # I = -1/2 log(1 - rho^2); KSG at N=2000, k=3 spreads by ~0.035 bit: 3 sigma = 0.1
    x, y = _gaussian_pair(rho, 2000, seed=int(rho * 10))
    expected = -0.5 * math.log2(1 - rho * rho)
    assert mutual_information(x, y, method="ksg") == pytest.approx(expected, abs=0.1)


def test_ksg_independent_is_near_zero():
    x, y = _gaussian_pair(0.0, 2000, seed=3)
    assert abs(mutual_information(x, y, method="ksg", k=5)) < 0.05


def test_ksg_vector_block_correlated():
    cov = np.array([[1, 0.3, 0.8, 0.2], [0.3, 1, 0.1, 0.6], [0.8, 0.1, 1, 0.2],
                    [0.2, 0.6, 0.2, 1.0]])
    expected = 0.5 * math.log2(np.linalg.det(cov[:2, :2]) * np.linalg.det(cov[2:, 2:])
                               / np.linalg.det(cov))
    z = np.random.default_rng(7).normal(size=(2000, 4)) @ np.linalg.cholesky(cov).T
    assert mutual_information(z[:, :2], z[:, 2:], method="ksg") == pytest.approx(expected,
                                                                                  abs=0.1)


def _ksg_oracle(x, y, k):
    """Double loop over pairs: the textbook definition."""
    n = len(x)
    dx = np.abs(x[:, None, :] - x[None, :, :]).max(-1)
    dy = np.abs(y[:, None, :] - y[None, :, :]).max(-1)
    total = 0.0
    for i in range(n):
        others = [j for j in range(n) if j != i]
        eps = sorted(max(dx[i, j], dy[i, j]) for j in others)[k - 1]
        n_x = sum(dx[i, j] < eps for j in others)
        n_y = sum(dy[i, j] < eps for j in others)
        total += digamma(n_x + 1) + digamma(n_y + 1)
    return (digamma(k) + digamma(n) - total / n) / math.log(2)


def test_ksg_matches_brute_force_definition_and_chunking():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(120, 2))
    y = x[:, :1] + rng.normal(size=(120, 1))
    expected = _ksg_oracle(x, y, 4)
    assert mutual_information(x, y, method="ksg", k=4) == pytest.approx(expected, abs=1e-12)
    tiny = _ksg.knn_information(torch.from_numpy(y)[None], 4, x=torch.from_numpy(x)[None],
                                max_memory_bytes=1)
    assert tiny["ksg"].item() == pytest.approx(expected, abs=1e-12)


def _ross_oracle(t, labels, k):
    n = len(t)
    d = np.abs(t[:, None, :] - t[None, :, :]).max(-1)
    total = 0.0
    for i in range(n):
        same = sorted(d[i, j] for j in range(n) if j != i and labels[j] == labels[i])
        radius = same[k - 1]
        m = sum(d[i, j] <= radius for j in range(n) if j != i)
        total += digamma(np.sum(labels == labels[i])) + digamma(m)
    return (digamma(n) + digamma(k) - total / n) / math.log(2)


def test_ross_matches_brute_force_definition():
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 3, size=90)
    t = rng.normal(size=(90, 2)) + labels[:, None]
    expected = _ross_oracle(t, labels, 2)
    out = information_plane_stacked(t[None], labels, method="ksg", k=2, inputs=t)
    assert out.i_ty.item() == pytest.approx(expected, abs=1e-12)
    tiny = _ksg.knn_information(torch.from_numpy(t)[None], 2, labels=torch.from_numpy(labels),
                                n_labels=3, max_memory_bytes=1)
    assert set(tiny) == {"ross"} and tiny["ross"].item() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("mu", [0.5, 1.5])
def test_ross_two_gaussians_against_quadrature(mu):
    # Y in {0,1} equiprobable, T|Y ~ N(-+mu, 1): I = H(T) - 1/2 ln(2 pi e), H(T) by quadrature
    def density(t):
        return 0.5 * (stats.norm.pdf(t, -mu) + stats.norm.pdf(t, mu))

    h_t, _ = integrate.quad(lambda t: -density(t) * math.log(density(t)), -mu - 15, mu + 15)
    expected = (h_t - 0.5 * math.log(2 * math.pi * math.e)) / math.log(2)
    n = 2000
    labels = np.arange(n) % 2
    t = np.random.default_rng(10).normal(size=(n, 1)) + mu * (2 * labels[:, None] - 1)
    plane = information_plane({"t": t}, labels, method="ksg", inputs=t)
    assert plane.i_ty[0] == pytest.approx(expected, abs=0.06)
    assert plane.params == {"k": 3}


def test_ksg_plane_bounded_by_log_n_and_stacked_matches():
    rng = np.random.default_rng(11)
    x = torch.from_numpy(rng.normal(size=(300, 3)))
    acts = torch.stack([torch.tanh(x @ torch.from_numpy(rng.normal(size=(3, 4))))
                        for _ in range(3)])
    y = torch.from_numpy(rng.integers(0, 2, size=300))
    stacked = information_plane_stacked(acts, y, method="ksg", inputs=x)
    for s in range(3):
        one = information_plane({"t": acts[s]}, y, method="ksg", inputs=x)
        assert stacked.i_xt[s].item() == pytest.approx(one.i_xt[0], abs=1e-12)
        assert stacked.i_ty[s].item() == pytest.approx(one.i_ty[0], abs=1e-12)
        assert one.i_xt[0] <= math.log2(300)
