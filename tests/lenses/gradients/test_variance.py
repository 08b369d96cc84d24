"""Known answers, oracles, properties and the contract of the gradient-variance lens."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepscope.data.parity import parity_labels, random_subset, sign_inputs
from deepscope.errors import DeepscopeError
from deepscope.lenses.gradients.functional import FunctionalModel
from deepscope.lenses.gradients.per_example import LinearEngine, VmapEngine, per_example_engine
from deepscope.lenses.gradients.walsh import cube_inputs, elementary_symmetric, fwht
from deepscope.lenses.gradients import (
    gradient_variance_across_targets,
    parity_gradient_variance,
)


def hinge(out, y):
    return (1 - out.squeeze(-1) * y).clamp(min=0).mean()


def square(out, y):
    return 0.5 * ((out.squeeze(-1) - y) ** 2).mean()


def net(d, width=12, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, width), torch.nn.ReLU(),
                               torch.nn.Linear(width, 1)).to(dtype)


class TanhConvNet(torch.nn.Module):
    """A model outside the Linear fast path (conv layer), for the generic engine."""

    def __init__(self, d):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 3, 3, padding=1)
        self.out = torch.nn.Linear(3 * d, 1)

    def forward(self, x):
        return self.out(torch.tanh(self.conv(x[:, None, :])).flatten(1))


def all_parities(d, dtype=torch.float64):
    x = cube_inputs(0, 2 ** d, d, dtype=dtype)
    subsets = [tuple(j for j in range(d) if s >> j & 1) for s in range(2 ** d)]
    return x, subsets, parity_labels(x, subsets)


# ----------------------------------------------------------------------------- helpers


def test_fwht_equals_the_dense_hadamard_matrix():
    d = 5
    x = cube_inputs(0, 2 ** d, d, dtype=torch.float64)
    _, _, H = all_parities(d)  # H[s, i] = chi_S(x_i)
    v = torch.randn(2 ** d, 3, dtype=torch.float64)
    assert torch.allclose(fwht(v), H @ v)
    assert torch.allclose(fwht(fwht(v)), 2 ** d * v)  # H H = 2^d I
    assert torch.equal(x[0], torch.ones(d, dtype=torch.float64))


def test_elementary_symmetric_is_the_sum_over_k_subsets():
    d, k = 6, 3
    x = cube_inputs(0, 2 ** d, d, dtype=torch.float64)
    _, subsets, H = all_parities(d)
    rows = [s for s, sub in enumerate(subsets) if len(sub) == k]
    assert torch.allclose(elementary_symmetric(x, k), H[rows].sum(0))


# ----------------------------------------------------------------------------- known answers


def test_linear_model_square_loss_closed_form():
    # F_h(w) = 1/(2n) ||X w - y_h||^2, grad = X^T (X w - y_h) / n:
    # Var over targets = (1/H) sum_h ||X^T (y_h - ybar) / n||^2
    torch.manual_seed(1)
    n, d, H = 20, 4, 7
    lin = torch.nn.Linear(d, 1, bias=False).double()
    x = torch.randn(n, d, dtype=torch.float64)
    ys = torch.randn(H, n, dtype=torch.float64)
    res = gradient_variance_across_targets(lin, square, x, ys)
    g = -(x.T @ (ys - ys.mean(0)).T).T / n
    expected = float((g ** 2).sum(1).mean())
    assert res.variance == pytest.approx(expected, rel=1e-12)
    w = lin.weight.detach()[0]
    grads = ((x @ w)[None] - ys) @ x / n
    assert res.mean_sq_norm == pytest.approx(float((grads ** 2).sum(1).mean()), rel=1e-12)
    assert res.mean_grad_sq_norm == pytest.approx(float((grads.mean(0) ** 2).sum()), rel=1e-12)


def test_identical_targets_have_zero_variance():
    model = net(4)
    x = sign_inputs(32, 4, seed=2, dtype=torch.float64)
    y = parity_labels(x, (0, 1))
    res = gradient_variance_across_targets(model, hinge, x, y.expand(5, -1))
    assert res.variance == pytest.approx(0.0, abs=1e-20)
    assert res.mean_sq_norm > 0


@pytest.mark.parametrize("loss", [hinge, square])
def test_exact_parity_variance_equals_brute_force_over_all_targets(loss):
    d = 6
    model = net(d)
    x, _, targets = all_parities(d)
    brute = gradient_variance_across_targets(model, loss, x, targets)
    exact = parity_gradient_variance(model, loss, d)
    assert exact.n_targets == 2 ** d and exact.method == "parity-exact"
    assert exact.variance == pytest.approx(brute.variance, rel=1e-10)
    assert exact.mean_sq_norm == pytest.approx(brute.mean_sq_norm, rel=1e-10)
    np.testing.assert_allclose(exact.layer_variance, brute.layer_variance, rtol=1e-9)


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_exact_k_subset_variance_equals_brute_force(k):
    d = 6
    model = net(d, seed=3)
    x, subsets, targets = all_parities(d)
    rows = [s for s, sub in enumerate(subsets) if len(sub) == k]
    brute = gradient_variance_across_targets(model, hinge, x, targets[rows])
    exact = parity_gradient_variance(model, hinge, d, subsets=k)
    assert exact.n_targets == math.comb(d, k)
    assert exact.variance == pytest.approx(brute.variance, rel=1e-9, abs=1e-15)
    assert exact.mean_sq_norm == pytest.approx(brute.mean_sq_norm, rel=1e-10)


def test_generic_engine_agrees_with_brute_force_and_linear_engine_is_chosen_for_mlps():
    d = 5
    model = TanhConvNet(d).double()
    assert type(per_example_engine(FunctionalModel(model), hinge)) is VmapEngine
    assert type(per_example_engine(FunctionalModel(net(d)), hinge)) is LinearEngine
    x, subsets, targets = all_parities(d)
    brute = gradient_variance_across_targets(model, square, x, targets)
    exact = parity_gradient_variance(model, square, d)
    assert exact.variance == pytest.approx(brute.variance, rel=1e-10)
    rows = [s for s, sub in enumerate(subsets) if len(sub) == 2]
    brute2 = gradient_variance_across_targets(model, square, x, targets[rows])
    assert parity_gradient_variance(model, square, d, subsets=2).variance == pytest.approx(
        brute2.variance, rel=1e-9)


def test_linear_and_vmap_engines_give_the_same_per_example_gradients():
    d = 7
    fm = FunctionalModel(net(d, width=9, seed=4))
    x = cube_inputs(0, 2 ** d, d, dtype=torch.float64)
    fast, slow = LinearEngine(fm, hinge, [(n, m) for n, m in fm.model.named_modules()
                                          if isinstance(m, torch.nn.Linear)]), VmapEngine(fm, hinge)
    assert torch.allclose(fast.odd_rows(x), slow.odd_rows(x), atol=1e-12)
    w = elementary_symmetric(x, 3)
    for a, b in zip(fast.odd_sums(x, w), slow.odd_sums(x, w)):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- theorem 1


@pytest.mark.parametrize("d", [4, 8, 11])
def test_theorem_1_bound_holds_for_random_one_hidden_layer_nets(d):
    for seed in range(3):
        res = parity_gradient_variance(net(d, width=2 * d, seed=seed, dtype=torch.float32),
                                       hinge, d)
        assert res.g_sq > 0
        assert 0 <= res.bound_ratio <= 1 + 1e-6
        assert res.variance * 2 ** d <= res.g_sq * (1 + 1e-6)
        res_k = parity_gradient_variance(net(d, width=2 * d, seed=seed), hinge, d,
                                         subsets=d // 2)
        assert res_k.variance * res_k.n_targets <= res_k.g_sq * (1 + 1e-9)


def test_log2_variance_falls_with_slope_about_minus_one_in_d():
    ds_, logs = list(range(4, 15, 2)), []
    for d in ds_:
        vals = [parity_gradient_variance(net(d, width=20, seed=s, dtype=torch.float32),
                                         hinge, d).variance for s in range(2)]
        logs.append(math.log2(np.mean(vals)))
    slope = np.polyfit(ds_, logs, 1)[0]
    assert -1.3 < slope < -0.8


def test_monte_carlo_over_sampled_targets_agrees_with_exact():
    # Parities sampled uniformly (with replacement) from all 2^d; the per-target squared
    # norms are heavy-tailed (low-degree parities carry most of the energy), so the check
    # is against the Monte-Carlo standard error computed from the same sample.
    d, m = 10, 300
    model = net(d, width=16, seed=5)
    x = cube_inputs(0, 2 ** d, d, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    subsets = [tuple(int(j) for j in torch.nonzero(torch.randint(0, 2, (d,), generator=gen)))
               for _ in range(m)]
    targets = parity_labels(x, subsets)
    sampled = gradient_variance_across_targets(model, hinge, x, targets)
    exact = parity_gradient_variance(model, hinge, d)
    norms = np.array([gradient_variance_across_targets(model, hinge, x, t[None]).mean_sq_norm
                      for t in targets])
    assert sampled.mean_sq_norm == pytest.approx(norms.mean(), rel=1e-10)
    se = norms.std(ddof=1) / math.sqrt(m)
    assert abs(sampled.mean_sq_norm - exact.mean_sq_norm) < 4 * se
    assert abs(sampled.variance * m / (m - 1) - exact.variance) < 4 * se
    assert se < 0.5 * exact.variance  # the check has teeth


def test_sampled_inputs_estimate_is_close_to_exact():
    d = 12
    model = net(d, width=16, seed=6, dtype=torch.float32)
    exact = parity_gradient_variance(model, hinge, d)
    est = parity_gradient_variance(model, hinge, d, n_inputs=2 ** 14, seed=1)
    assert est.method == "parity-sampled-inputs"
    assert est.variance == pytest.approx(exact.variance, rel=0.05)


# ----------------------------------------------------------------------------- frame


def test_to_frame_is_tidy_and_layers_sum_to_total():
    res = parity_gradient_variance(net(5), hinge, 5)
    frame = res.tidy()
    assert set(frame.columns) == {"layer", "metric", "value"}
    assert set(frame.metric) == {"variance", "mean_sq_norm", "g_sq"}
    assert list(frame.layer.unique()) == ["0.weight", "0.bias", "2.weight", "2.bias", "total"]
    assert list(res.to_frame().columns) == ["layer", "variance", "mean_sq_norm", "g_sq",
                                            "n_targets", "method"]
    var = frame[frame.metric == "variance"].set_index("layer").value
    assert var.drop("total").sum() == pytest.approx(var["total"], rel=1e-12)
    assert res.mean_sq_norm == pytest.approx(res.variance + res.mean_grad_sq_norm, rel=1e-12)


# ----------------------------------------------------------------------------- contract


def test_same_seed_same_result():
    model = net(9, dtype=torch.float32)
    a = parity_gradient_variance(model, hinge, 9, n_inputs=300, seed=4)
    b = parity_gradient_variance(model, hinge, 9, n_inputs=300, seed=4)
    assert a.variance == b.variance and a.params == b.params


@pytest.mark.parametrize("kwargs, match", [
    ({"d": 0}, "'d' parameter of parity_gradient_variance must be an int in \\[1, 24\\]"),
    ({"d": 25}, "'d' parameter of parity_gradient_variance must be an int in \\[1, 24\\]"),
    ({"d": 4, "subsets": "some"}, "'subsets' parameter of parity_gradient_variance must be "),
    ({"d": 4, "subsets": 5}, "'subsets' parameter .* an int in \\[0, 4\\]. Got 5."),
    ({"d": 4, "subsets": 2, "n_inputs": 10}, "'n_inputs' parameter"),
    ({"d": 4, "batch_size": 0}, "'batch_size' parameter"),
    ({"d": 4, "seed": -1}, "'seed' parameter"),
])
def test_parity_bad_arguments(kwargs, match):
    d = kwargs.pop("d")
    with pytest.raises(DeepscopeError, match=match):
        parity_gradient_variance(net(4), hinge, d, **kwargs)


def test_targets_bad_arguments():
    model, x = net(3), torch.zeros(4, 3, dtype=torch.float64)
    func = "gradient_variance_across_targets"
    with pytest.raises(DeepscopeError, match=f"'targets' parameter of {func} must be a tensor"):
        gradient_variance_across_targets(model, hinge, x, torch.zeros(2, 5))
    with pytest.raises(DeepscopeError, match=f"'model' parameter of {func} must be a torch"):
        gradient_variance_across_targets("net", hinge, x, torch.zeros(2, 4))
    with pytest.raises(DeepscopeError, match="'loss_fn' parameter"):
        gradient_variance_across_targets(model, None, x, torch.zeros(2, 4))
    with pytest.raises(DeepscopeError, match="'chunk_size' parameter"):
        gradient_variance_across_targets(model, hinge, x, torch.zeros(2, 4), chunk_size=0)
    with pytest.raises(DeepscopeError, match="contain NaN"):
        gradient_variance_across_targets(model, hinge, x * float("nan"), torch.zeros(2, 4))


def test_chunking_does_not_change_the_result():
    model = net(4)
    x = sign_inputs(16, 4, seed=0, dtype=torch.float64)
    targets = parity_labels(x, [random_subset(4, 2, seed=s) for s in range(9)])
    full = gradient_variance_across_targets(model, hinge, x, targets)
    chunked = gradient_variance_across_targets(model, hinge, x, targets, chunk_size=2)
    assert chunked.variance == pytest.approx(full.variance, rel=1e-12)


def test_cross_entropy_targets_work():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3).double()
    x = torch.randn(10, 4, dtype=torch.float64)
    targets = torch.randint(0, 3, (6, 10))
    res = gradient_variance_across_targets(model, F.cross_entropy, x, targets)
    # oracle: loop with autograd
    grads = []
    for t in targets:
        g = torch.autograd.grad(F.cross_entropy(model(x), t), list(model.parameters()))
        grads.append(torch.cat([v.flatten() for v in g]))
    grads = torch.stack(grads)
    assert res.variance == pytest.approx(float(((grads - grads.mean(0)) ** 2).sum(1).mean()),
                                         rel=1e-10)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    model = net(8, dtype=torch.float64)
    cpu = parity_gradient_variance(model, hinge, 8)
    gpu = parity_gradient_variance(model.cuda(), hinge, 8)
    assert gpu.variance == pytest.approx(cpu.variance, rel=1e-9)
