"""Known answers, oracles and properties of the weight-spectra lens."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.lenses.spectra import (
    esd,
    fit_marchenko_pastur,
    fit_power_law,
    weight_matrices,
)
from deepscope.lenses.spectra.results import js_distance
from deepscope.nets import MLP, SmallCNN


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- esd


def test_esd_of_a_diagonal_matrix_is_the_squared_diagonal():
    w = torch.diag(torch.tensor([3.0, 1.0, 2.0]))
    assert esd(w).tolist() == [1.0, 4.0, 9.0]


@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (30, 30)])
def test_esd_is_the_squared_singular_values(shape):
    w = torch.randn(*shape, generator=_gen(0), dtype=torch.float64)
    sv = torch.linalg.svdvals(w)
    ev = esd(w)
    assert ev.shape == (min(shape),)
    torch.testing.assert_close(ev, torch.sort(sv ** 2).values, rtol=1e-9, atol=1e-9)
    assert torch.all(ev[1:] >= ev[:-1])


def test_esd_of_a_stack_pools_every_slice():
    w = torch.randn(4, 12, 7, generator=_gen(1), dtype=torch.float64)
    pooled = torch.sort(torch.cat([torch.linalg.svdvals(s) ** 2 for s in w])).values
    torch.testing.assert_close(esd(w), pooled, rtol=1e-9, atol=1e-9)


def test_esd_dtype_follows_the_weights_unless_asked():
    w = torch.randn(40, 10, generator=_gen(2))
    ref = torch.sort(torch.linalg.svdvals(w.double()) ** 2).values
    ev32 = esd(w)
    assert ev32.dtype == torch.float32
    torch.testing.assert_close(ev32.double(), ref, rtol=1e-4, atol=1e-5)
    ev64 = esd(w, dtype=torch.float64)
    assert ev64.dtype == torch.float64
    torch.testing.assert_close(ev64, ref, rtol=1e-9, atol=1e-9)
    with pytest.raises(DeepscopeError, match="'dtype' parameter of esd"):
        esd(w, dtype=torch.int32)


def test_esd_bad_inputs():
    with pytest.raises(DeepscopeError, match="'w' parameter of esd must be a real floating"):
        esd([1, 2, 3])
    with pytest.raises(DeepscopeError, match=r"shape \(N, M\) or \(k, N, M\)"):
        esd(torch.ones(3))
    with pytest.raises(DeepscopeError, match="NaN or inf"):
        esd(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))


# ----------------------------------------------------------------------------- matrices


def test_weight_matrices_of_an_mlp_are_its_linear_layers_tall():
    mats = weight_matrices(MLP((64, 32, 128, 10)))
    assert [m.layer for m in mats] == ["fc1", "fc2", "fc3"]
    assert [(m.N, m.M, m.n_slices) for m in mats] == [(64, 32, 1), (128, 32, 1), (128, 10, 1)]
    assert all(m.N >= m.M for m in mats)


def test_conv_layers_become_kernel_slices_or_one_reshaped_matrix():
    net = SmallCNN(channels=(8, 16))
    mats = {m.layer: m for m in weight_matrices(net)}
    conv2 = mats["conv2"]
    assert (conv2.n_slices, conv2.N, conv2.M, conv2.kind) == (9, 16, 8, "conv")
    w = net.conv2.weight.detach()
    for s in range(9):
        i, j = divmod(s, 3)
        torch.testing.assert_close(conv2.weights[s], w[:, :, i, j])
    reshaped = {m.layer: m for m in weight_matrices(net, conv="reshape")}["conv2"]
    assert (reshaped.n_slices, reshaped.N, reshaped.M) == (1, 72, 16)
    # pooled slice ESD = union of the per-slice spectra
    ref = torch.sort(torch.cat([torch.linalg.svdvals(w[:, :, i, j].double()) ** 2
                                for i in range(3) for j in range(3)])).values
    torch.testing.assert_close(esd(conv2, dtype=torch.float64), ref, rtol=1e-9, atol=1e-9)


def test_embeddings_and_attention_projections_are_found():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 16)
            self.attn = nn.MultiheadAttention(16, 2)
            self.norm = nn.LayerNorm(16)

    mats = weight_matrices(Net())
    got = [(m.layer, m.matrix, m.kind, m.N, m.M) for m in mats]
    assert got == [("emb", "weight", "embedding", 50, 16),
                   ("attn", "q", "attention", 16, 16), ("attn", "k", "attention", 16, 16),
                   ("attn", "v", "attention", 16, 16),
                   ("attn.out_proj", "weight", "linear", 16, 16)]


def test_weight_matrices_bad_arguments():
    with pytest.raises(DeepscopeError, match="'model' parameter of weight_matrices must be a "
                                             "torch.nn.Module"):
        weight_matrices("net")
    with pytest.raises(DeepscopeError, match=r"'conv' parameter of weight_matrices must be one "
                                             r"of \{'slices', 'reshape'\}"):
        weight_matrices(MLP((4, 2)), conv="fft")


# ----------------------------------------------------------------------------- power law


def _pareto(n, alpha, xmin, gen):
    return xmin * (1 - torch.rand(n, generator=gen, dtype=torch.float64)) ** (-1 / (alpha - 1))


def test_power_law_samples_give_alpha_and_xmin():
    g = _gen(0)
    tail = _pareto(10_000, 2.5, 1.0, g)
    body = 0.2 + 0.8 * torch.rand(3000, generator=g, dtype=torch.float64)
    fit = fit_power_law(torch.cat([body, tail]))
    assert abs(fit.alpha - 2.5) < 0.05
    assert 0.9 < fit.xmin < 1.2
    assert abs(fit.n_tail - 10_000) < 500
    assert fit.sigma == pytest.approx((fit.alpha - 1) / math.sqrt(fit.n_tail))


def _brute_force(x):
    """Every candidate by a plain loop: alpha MLE and KS at the tail's distinct values."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    out = []
    for xm in np.unique(x)[:-1]:
        tail = x[x >= xm]
        n = len(tail)
        a = 1 + n / np.sum(np.log(tail / xm))
        u = np.unique(tail)
        emp = np.array([np.sum(tail < v) for v in u]) / n
        d = np.max(np.abs(1 - (u / xm) ** (1 - a) - emp))
        out.append((xm, a, d))
    return np.array(out)


def test_vectorised_search_equals_a_brute_force_loop_with_ties():
    g = _gen(3)
    x = torch.round(_pareto(60, 2.2, 1.0, g) * 4) / 4  # ties on purpose
    ref = _brute_force(x.numpy())
    fit = fit_power_law(x)
    np.testing.assert_allclose(fit.candidates_xmin, ref[:, 0])
    np.testing.assert_allclose(fit.candidates_alpha, ref[:, 1], rtol=1e-12)
    np.testing.assert_allclose(fit.candidates_D, ref[:, 2], rtol=1e-10, atol=1e-12)
    best = int(np.argmin(ref[:, 2]))
    assert fit.xmin == ref[best, 0] and fit.alpha == pytest.approx(ref[best, 1])


def test_fixed_xmin_is_the_closed_form_mle():
    x = torch.tensor([0.5, 1.0, 2.0, 4.0, 8.0], dtype=torch.float64)
    fit = fit_power_law(x, xmin=1.0)
    assert fit.n_tail == 4 and fit.xmin == 1.0
    assert fit.alpha == pytest.approx(1 + 4 / (math.log(2) + math.log(4) + math.log(8)))
    assert not fit.xmin_searched and fit.candidates_alpha.size == 0


def test_power_law_is_scale_invariant_and_ignores_non_positive_values():
    x = _pareto(500, 3.0, 1.0, _gen(4))
    a = fit_power_law(x)
    b = fit_power_law(torch.cat([7.5 * x, torch.zeros(20), -torch.ones(3)]))
    assert b.alpha == pytest.approx(a.alpha, rel=1e-9)
    assert b.xmin == pytest.approx(7.5 * a.xmin, rel=1e-12)
    assert b.D == pytest.approx(a.D, rel=1e-9, abs=1e-12) and b.n == 500


def test_power_law_pdf_integrates_to_one():
    fit = fit_power_law(_pareto(300, 2.5, 2.0, _gen(5)))
    x = np.geomspace(fit.xmin, fit.xmin * 1e7, 200_001)
    assert np.trapezoid(fit.pdf(x), x) == pytest.approx(1.0, abs=2e-3)
    assert fit.pdf(fit.xmin / 2) == 0.0


def test_power_law_agrees_with_the_powerlaw_package():
    powerlaw = pytest.importorskip("powerlaw")
    g = _gen(6)
    x = torch.cat([_pareto(800, 2.5, 1.0, g), 0.05 + 0.9 * torch.rand(400, generator=g,
                                                                      dtype=torch.float64)])
    ours = fit_power_law(x)
    ref = powerlaw.Fit(x.numpy(), verbose=False)
    assert ours.alpha == pytest.approx(ref.alpha, abs=1e-9)
    assert ours.xmin == pytest.approx(ref.xmin, rel=1e-12)
    assert ours.D == pytest.approx(ref.D, abs=1e-9)


def test_power_law_bad_arguments():
    with pytest.raises(DeepscopeError, match="'xmin' parameter of fit_power_law must be "
                                             "'search' or a positive float. Got 'auto'"):
        fit_power_law([1.0, 2.0, 3.0], xmin="auto")
    with pytest.raises(DeepscopeError, match="'xmin' parameter of fit_power_law must be a "
                                             r"finite float in \(0, inf\)"):
        fit_power_law([1.0, 2.0, 3.0], xmin=-1.0)
    with pytest.raises(DeepscopeError, match="at least two distinct positive values"):
        fit_power_law([2.0, 2.0, 0.0])
    with pytest.raises(DeepscopeError, match="NaN or inf"):
        fit_power_law([1.0, float("inf")])
    with pytest.raises(DeepscopeError, match="'eigenvalues' parameter of fit_power_law"):
        fit_power_law("1 2 3")


# ----------------------------------------------------------------------------- MP


@pytest.mark.parametrize("shape", [(1000, 500), (600, 600), (800, 200)])
def test_gaussian_matrices_follow_marchenko_pastur(shape):
    n, m = shape
    w = 0.3 * torch.randn(n, m, generator=_gen(7), dtype=torch.float64)
    mp = fit_marchenko_pastur(esd(w), n / m, m=m)
    true_edge = 0.09 * (math.sqrt(n) + math.sqrt(m)) ** 2
    assert mp.bulk_max == pytest.approx(true_edge, rel=0.02)
    assert mp.bulk_variance == pytest.approx(0.09 * n, rel=0.04)
    assert mp.n_spikes == 0
    assert 0.9 < mp.mp_softrank < 1.1


@pytest.mark.parametrize("k", [1, 3, 5])
def test_planted_rank_k_spikes_are_counted(k):
    g = _gen(10 + k)
    n, m = 1000, 400
    noise = torch.randn(n, m, generator=g, dtype=torch.float64)
    u = torch.linalg.qr(torch.randn(n, k, generator=g, dtype=torch.float64))[0]
    v = torch.linalg.qr(torch.randn(m, k, generator=g, dtype=torch.float64))[0]
    theta = torch.linspace(3.0, 5.0, k, dtype=torch.float64) * math.sqrt(n)
    mp = fit_marchenko_pastur(esd(noise + (u * theta) @ v.T), n / m, m=m)
    assert mp.n_spikes == k
    assert mp.mp_softrank < 0.5
    assert mp.bulk_max == pytest.approx((math.sqrt(n) + math.sqrt(m)) ** 2, rel=0.03)


def test_mp_pdf_integrates_to_one_over_the_bulk():
    w = torch.randn(900, 300, generator=_gen(20), dtype=torch.float64)
    mp = fit_marchenko_pastur(esd(w), 3.0)
    x = np.linspace(mp.bulk_min, mp.bulk_max, 400_001)
    assert np.trapezoid(mp.pdf(x), x) == pytest.approx(1.0, abs=5e-3)


def test_mp_bad_arguments():
    ev = esd(torch.randn(50, 20, generator=_gen(21)))
    with pytest.raises(DeepscopeError, match=r"'q' parameter of fit_marchenko_pastur must be "
                                             r"a finite float in \[1, inf\)"):
        fit_marchenko_pastur(ev, 0.5)
    with pytest.raises(DeepscopeError, match="'bandwidth' parameter"):
        fit_marchenko_pastur(ev, 2.5, bandwidth=0.0)
    with pytest.raises(DeepscopeError, match="'m' parameter"):
        fit_marchenko_pastur(ev, 2.5, m=0)
    with pytest.raises(DeepscopeError, match="must be >= 0"):
        fit_marchenko_pastur(torch.tensor([-1.0, 2.0, 3.0]), 2.0)
    with pytest.raises(DeepscopeError, match="at least two eigenvalues"):
        fit_marchenko_pastur(torch.zeros(5), 2.0)


def test_js_distance_known_values():
    p = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert js_distance(p, 5 * p) == pytest.approx(0.0, abs=1e-12)
    a = torch.tensor([1.0, 0.0], dtype=torch.float64)
    b = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert js_distance(a, b) == pytest.approx(math.sqrt(math.log(2)))
