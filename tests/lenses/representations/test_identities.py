"""The identity suite: every similarity / distance on random data.

Self-similarity is exactly 1 (distance 0), every measure is symmetric, and each declared
invariance holds to 1e-6.
"""

import math

import pytest
import torch

from deepscope.lenses import representations as rep


def _rand(n, p, seed):
    return torch.randn(n, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _orth(p, seed):
    return torch.linalg.qr(_rand(p, p, seed))[0]


# name -> (similarity function returning "1 when identical", invariances)
MEASURES = {
    "cka_linear": (lambda x, y: rep.cka(x, y).value, {"orth", "scale", "shift"}),
    "cka_linear_debiased": (lambda x, y: rep.cka(x, y, debiased=True).value,
                            {"orth", "scale", "shift"}),
    "cka_rbf": (lambda x, y: rep.cka(x, y, kernel="rbf").value, {"orth", "scale", "shift"}),
    "cka_rbf_debiased": (lambda x, y: rep.cka(x, y, kernel="rbf", debiased=True).value,
                         {"orth", "scale", "shift"}),
    "procrustes": (lambda x, y: 1.0 - rep.procrustes_distance(x, y).value,
                   {"orth", "scale", "shift"}),
    "procrustes_euclidean": (lambda x, y: 1.0 - rep.procrustes_distance(
        x, y, metric="euclidean").value, {"orth", "scale", "shift"}),
    "shape_half": (lambda x, y: 1.0 - rep.shape_distance(x, y, alpha=0.5).value,
                   {"orth", "scale", "shift"}),
    "cca": (lambda x, y: 1.0 - rep.shape_distance(x, y, alpha=0.0).value,
            {"orth", "scale", "shift", "linear"}),
    "mutual_knn": (lambda x, y: rep.mutual_knn(x, y, k=8).value, {"orth", "scale", "shift"}),
}

TRANSFORMS = {
    "orth": lambda x: x @ _orth(x.shape[1], 11),
    "scale": lambda x: 3.7 * x,
    "shift": lambda x: x + _rand(1, x.shape[1], 12) * 10,
    "linear": lambda x: x @ (_rand(x.shape[1], x.shape[1], 13) + 3 * torch.eye(x.shape[1],
                                                                               dtype=x.dtype)),
}


@pytest.mark.parametrize("name", list(MEASURES))
def test_self_similarity_is_exactly_one(name):
    f, _ = MEASURES[name]
    x = _rand(120, 10, 0)
    assert f(x, x) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", list(MEASURES))
def test_symmetric(name):
    f, _ = MEASURES[name]
    x, y = _rand(120, 10, 0), _rand(120, 7, 1) + 0.3 * _rand(120, 10, 0)[:, :7]
    assert f(x, y) == pytest.approx(f(y, x), abs=1e-9)


@pytest.mark.parametrize("name,kind", [(n, k) for n, (_, inv) in MEASURES.items()
                                       for k in sorted(inv)])
def test_declared_invariances(name, kind):
    f, _ = MEASURES[name]
    x = _rand(150, 8, 2)
    y = torch.tanh(x @ _rand(8, 6, 3)) + 0.2 * _rand(150, 6, 4)
    base = f(x, y)
    moved = f(TRANSFORMS[kind](x), y)
    assert moved == pytest.approx(base, abs=1e-6)
    # and on both sides at once
    assert f(TRANSFORMS[kind](x), TRANSFORMS[kind](x)) == pytest.approx(1.0, abs=1e-6)


def test_procrustes_not_invariant_to_general_linear_maps():
    x = _rand(150, 8, 2)
    a = rep.procrustes_distance(x, TRANSFORMS["linear"](x)).value
    assert a > 0.05
    assert rep.shape_distance(x, TRANSFORMS["linear"](x), alpha=0.0).value < 1e-6


def test_shape_distance_is_a_metric_on_examples():
    a, b, c = _rand(80, 5, 5), _rand(80, 5, 6), _rand(80, 5, 7)
    d = lambda u, v: rep.procrustes_distance(u, v).value  # noqa: E731
    assert d(a, c) <= d(a, b) + d(b, c) + 1e-12
    assert 0 <= d(a, b) <= math.pi / 2


def test_linear_cka_of_orthogonal_map_is_one():
    x = _rand(200, 12, 8)
    assert rep.cka(x, x @ _orth(12, 9)).value == pytest.approx(1.0, abs=1e-12)


def test_debiased_cka_of_independent_noise_goes_to_zero():
    vals_b, vals_d = [], []
    for n in (100, 400, 1600):
        x, y = _rand(n, 64, n), _rand(n, 64, n + 1)
        vals_b.append(rep.cka(x, y).value)
        vals_d.append(abs(rep.cka(x, y, debiased=True).value))
    assert vals_b[-1] > 0.02  # the biased estimator keeps a width-dependent bias
    assert vals_d[-1] < 0.005
    assert vals_d[-1] < vals_b[-1] / 5


def test_mutual_knn_of_unrelated_is_near_chance():
    r = rep.mutual_knn(_rand(400, 5, 1), _rand(400, 5, 2), k=10)
    assert r.value < 5 * r.chance
