"""CKA: known answers, the streaming accumulator, the Gram route, the layer matrix."""

import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.lenses import representations as rep
from deepscope.lenses.representations.cka import cka_gram


def _rand(n, p, seed, dtype=torch.float64):
    return torch.randn(n, p, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _brute_linear(x, y):
    """Kornblith et al.'s definition, straight from the centred Gram matrices."""
    k, l = x @ x.T, y @ y.T  # noqa: E741
    h = torch.eye(len(x), dtype=x.dtype) - 1.0 / len(x)
    kc, lc = h @ k @ h, h @ l @ h
    return float((kc * lc).sum() / torch.sqrt((kc * kc).sum() * (lc * lc).sum()))


def _brute_unbiased_hsic(k, l):  # noqa: E741
    """U-statistic of HSIC by definition over distinct index quadruples (tiny n)."""
    n = len(k)
    import itertools
    tot, cnt = 0.0, 0
    for i, j, q, r in itertools.permutations(range(n), 4):
        tot += k[i, j] * l[i, j] + k[i, j] * l[q, r] - 2 * k[i, j] * l[i, q]
        cnt += 1
    return tot / cnt


def test_linear_matches_definition():
    x, y = _rand(60, 7, 0), _rand(60, 5, 1)
    assert rep.cka(x, y).value == pytest.approx(_brute_linear(x, y), abs=1e-12)


def test_unbiased_hsic_matches_u_statistic():
    x, y = _rand(7, 3, 0), _rand(7, 2, 1)
    k, l = x @ x.T, y @ y.T  # noqa: E741
    from deepscope.lenses.representations.cka import hsic_gram
    assert hsic_gram(k, l, True) == pytest.approx(float(_brute_unbiased_hsic(k, l)), rel=1e-10)


@pytest.mark.parametrize("debiased", [False, True])
def test_feature_route_equals_gram_route(debiased):
    x, y = _rand(50, 4, 2), _rand(50, 3, 3) + _rand(50, 4, 2)[:, :3]
    xc, yc = x - x.mean(0), y - y.mean(0)
    assert rep.cka(x, y, debiased=debiased).value == pytest.approx(
        cka_gram(xc @ xc.T, yc @ yc.T, debiased), abs=1e-12)
    wide_x, wide_y = _rand(20, 40, 4), _rand(20, 30, 5)  # n^2 < p q: Gram route
    acc = rep.CKA(debiased=debiased)
    acc.update(wide_x, wide_y)
    assert rep.cka(wide_x, wide_y, debiased=debiased).value == pytest.approx(
        acc.compute().value, abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_streaming_equals_full_batch(debiased):
    x = _rand(503, 9, 6) + 50.0  # a large mean: the shift keeps float32 sums accurate
    y = torch.relu(x @ _rand(9, 11, 7)) + 0.1 * _rand(503, 11, 8)
    full = rep.cka(x, y, debiased=debiased).value
    for sizes in ([503], [100] * 5 + [3], [1, 2, 500], [7] * 71 + [6]):
        acc = rep.CKA(debiased=debiased)
        for xs, ys in zip(x.split(sizes), y.split(sizes)):
            acc.update(xs, ys)
        assert acc.n == 503
        assert acc.compute().value == pytest.approx(full, abs=1e-12)
    acc = rep.CKA(debiased=debiased)
    for xs, ys in zip(x.float().split(64), y.float().split(64)):
        acc.update(xs, ys)
    assert acc.compute().value == pytest.approx(full, abs=1e-5)


def test_rbf_wide_bandwidth_tends_to_linear():
    x, y = _rand(80, 5, 0), _rand(80, 5, 1) + _rand(80, 5, 0)
    lin = rep.cka(x, y).value
    assert rep.cka(x, y, kernel="rbf", sigma=200.0).value == pytest.approx(lin, abs=1e-3)


def test_constant_representation_gives_nan():
    x = _rand(30, 3, 0)
    assert np.isnan(rep.cka(x, torch.ones(30, 2, dtype=torch.float64)).value)


def test_errors():
    with pytest.raises(DeepscopeError, match="'y' parameter of cka"):
        rep.cka(_rand(10, 2, 0), _rand(11, 2, 0))
    with pytest.raises(DeepscopeError, match="NaN"):
        rep.cka(torch.full((5, 2), float("nan")), _rand(5, 2, 0))
    acc = rep.CKA(debiased=True)
    acc.update(_rand(3, 2, 0), _rand(3, 2, 1))
    with pytest.raises(DeepscopeError, match="at least 4"):
        acc.compute()
    with pytest.raises(DeepscopeError, match="'x' parameter of CKA.update"):
        acc.update(_rand(3, 5, 0), _rand(3, 2, 1))


def test_result_frames():
    r = rep.cka(_rand(20, 3, 0), _rand(20, 3, 1), debiased=True)
    assert list(r.tidy().columns) == ["layer", "layer_b", "metric", "value"]
    assert r.tidy().metric[0] == "cka_debiased"
    assert float(r) == r.value


# ---------------------------------------------------------------- cka_matrix


def _mlp(seed):
    gen = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8),
                              torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)
    return net


def _acts(net, x):
    out, h = {}, x
    for name, m in net.named_children():
        h = m(h)
        out[name] = h.detach()
    return out


@pytest.mark.parametrize("debiased", [False, True])
def test_matrix_equals_pairwise_cka(debiased):
    a, b = _mlp(0), _mlp(1)
    x = _rand(200, 6, 9)
    loader = [(xb, None) for xb in x.split(37)]
    m = rep.cka_matrix(a, b, loader, layers_a=["0", "1", "2", "3", "4"], layers_b=["*"],
                       debiased=debiased)
    aa, ab = _acts(a, x), _acts(b, x)
    assert m.layers_b == ("0", "1", "2", "3", "4")
    for i, la in enumerate(m.layers_a):
        for j, lb in enumerate(m.layers_b):
            want = rep.cka(aa[la], ab[lb], debiased=debiased).value
            assert m.values[i, j] == pytest.approx(want, abs=1e-10)
    assert m.n == 200 and m.complete


def test_matrix_of_a_model_with_itself_is_symmetric_with_unit_diagonal():
    net = _mlp(0)
    m = rep.cka_matrix(net, None, _rand(100, 6, 1))
    np.testing.assert_allclose(np.diag(m.values), 1.0, atol=1e-12)
    np.testing.assert_allclose(m.values, m.values.T, atol=1e-12)
    assert m.same_model and len(m.to_frame()) == 25


def test_matrix_of_two_copies_is_the_self_matrix():
    a = _mlp(3)
    b = _mlp(3)
    x = _rand(90, 6, 2)
    np.testing.assert_allclose(rep.cka_matrix(a, b, x).values,
                               rep.cka_matrix(a, None, x).values, atol=1e-10)


def test_matrix_budget_and_errors():
    net = _mlp(0)
    batches = list(_rand(100, 6, 1).split(10))
    m = rep.cka_matrix(net, None, batches, max_batches=3)
    assert not m.complete and m.n == 30
    with pytest.raises(DeepscopeError, match="'layers_a'"):
        rep.cka_matrix(net, None, batches, layers_a=["fc9"])
    with pytest.raises(DeepscopeError, match="'model_b'"):
        rep.cka_matrix(net, 3, batches)
    shared = torch.nn.Linear(6, 6).double()
    twice = torch.nn.Sequential(shared, torch.nn.ReLU(), shared)
    with pytest.raises(DeepscopeError, match="ran 2 times"):
        rep.cka_matrix(twice, None, batches, layers_a=["0"])


@pytest.mark.slow
def test_matrix_on_a_transformers_model():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=16,
                                  vocab_size=50)
    model = transformers.GPT2Model(cfg)
    model.train()
    ids = torch.randint(0, 50, (24, 8), generator=torch.Generator().manual_seed(0))
    batches = [{"input_ids": t} for t in ids.split(8)]
    m = rep.cka_matrix(model, None, batches, layers_a=["h.*"])
    assert m.layers_a == ("h.0", "h.1")
    np.testing.assert_allclose(np.diag(m.values), 1.0, atol=1e-6)
    assert model.training
    deep = rep.cka_matrix(model, None, batches, layers_a=["h.*.mlp"], layers_b=["h.**.c_fc"])
    assert deep.layers_a == ("h.0.mlp", "h.1.mlp") and deep.layers_b == ("h.0.mlp.c_fc",
                                                                       "h.1.mlp.c_fc")
