"""analyze_weights: one row per matrix, consistency with the parts, and the lens contract."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepscope.errors import DeepscopeError
from deepscope.lenses.spectra import (
    analyze_weights,
    esd,
    fit_marchenko_pastur,
    fit_power_law,
    weight_matrices,
)
from deepscope.nets import MLP, SmallCNN

COLUMNS = ["layer", "matrix", "kind", "N", "M", "n_slices", "q", "n_evals", "lambda_max",
           "alpha", "alpha_hat", "D", "xmin", "n_tail", "sigma", "stable_rank", "log_norm",
           "log_spectral_norm", "log_alpha_norm", "n_spikes", "mp_softrank", "bulk_variance",
           "bulk_max", "rand_lambda_max", "rand_distance", "n_traps", "note", "aliases"]


def _trained_mlp(widths=(64, 200, 120, 10), steps=30, seed=0):
    torch.manual_seed(seed)
    net = MLP(widths, activation="relu")
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, widths[0], generator=g)
    y = torch.randint(0, widths[-1], (256,), generator=g)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return net


def test_one_row_per_matrix_with_the_issue_columns():
    net = SmallCNN(channels=(8, 16), hidden=32)
    frame = analyze_weights(net).to_frame()
    assert list(frame.columns) == COLUMNS
    assert list(frame.layer) == ["conv1", "conv2", "fc1", "fc2"]
    assert list(frame.n_evals) == [9, 72, 32, 10]
    assert list(frame.n_slices) == [9, 9, 1, 1]
    assert (frame.N >= frame.M).all()


def test_rows_agree_with_the_parts():
    net = _trained_mlp()
    res = analyze_weights(net)
    frame = res.to_frame()
    for i, m in enumerate(weight_matrices(net)):
        ev = esd(m).double()
        np.testing.assert_allclose(res.eigenvalues[i], ev.numpy())
        fit = fit_power_law(ev)
        row = frame.iloc[i]
        assert row.alpha == pytest.approx(fit.alpha) and row.xmin == pytest.approx(fit.xmin)
        assert row.D == pytest.approx(fit.D) and row.n_tail == fit.n_tail
        lmax = float(ev[-1])
        assert row.lambda_max == pytest.approx(lmax)
        assert row.alpha_hat == pytest.approx(fit.alpha * math.log10(lmax))
        assert row.stable_rank == pytest.approx(float(ev.sum()) / lmax)
        w = m.weights[0].double()
        assert row.log_norm == pytest.approx(2 * math.log10(float(torch.linalg.norm(w))),
                                             abs=1e-6)
        assert row.log_spectral_norm == pytest.approx(
            2 * math.log10(float(torch.linalg.matrix_norm(w, ord=2))), abs=1e-6)
        assert row.log_alpha_norm == pytest.approx(
            math.log10(float((ev ** fit.alpha).sum())))
        mp = fit_marchenko_pastur(ev, m.q, m=m.M)
        assert row.n_spikes == mp.n_spikes and row.bulk_max == pytest.approx(mp.bulk_max)
        # the permuted matrix keeps every entry: same Frobenius norm, same trace
        assert res.random_eigenvalues[i].sum() == pytest.approx(ev.sum().item(), rel=1e-5)


def test_randomised_matrices_have_no_traps_when_weights_are_iid():
    net = MLP((300, 200, 100), activation="relu")
    frame = analyze_weights(net).to_frame()
    assert (frame.n_traps == 0).all()
    assert (frame.n_spikes == 0).all()
    # random weights: the bulk edge is close to lambda_max, and alpha is large (no tail)
    assert (frame.mp_softrank > 0.85).all()
    assert (frame.alpha > 4).all()


def test_options_switch_parts_off():
    frame = analyze_weights(_trained_mlp(), mp_fit=False, randomize=False).to_frame()
    assert frame.rand_distance.isna().all() and frame.mp_softrank.isna().all()
    assert (frame.n_spikes == -1).all() and (frame.n_traps == -1).all()
    assert frame.alpha.notna().all()


def test_seeds_permute_differently():
    # untouched model and same seed -> same result: the contract suite (test_contract.py)
    net = _trained_mlp()
    a = analyze_weights(net, seed=3)
    b = analyze_weights(net, seed=torch.Generator().manual_seed(9))
    c = analyze_weights(net, seed=4)
    for ra, rb, rc in zip(a.random_eigenvalues, b.random_eigenvalues, c.random_eigenvalues):
        assert not np.array_equal(ra, rc) and not np.array_equal(ra, rb)
    assert b.seed is None and a.seed == 3 and a.params["conv"] == "slices"


def test_index_finds_layers():
    res = analyze_weights(SmallCNN(), randomize=False)
    assert res.index("fc1") == 2 and res.index(1) == 1
    with pytest.raises(DeepscopeError, match="'layer' parameter of WeightSpectra must be one of"):
        res.index("fc9")


def test_analyze_bad_arguments():
    net = MLP((4, 3, 2))
    with pytest.raises(DeepscopeError, match="'model' parameter of analyze_weights must be a "
                                             "torch.nn.Module. Got 'list'"):
        analyze_weights([1])
    with pytest.raises(DeepscopeError, match="'mp_fit' parameter of analyze_weights must be a "
                                             "bool"):
        analyze_weights(net, mp_fit=1)
    with pytest.raises(DeepscopeError, match=r"'seed' parameter of analyze_weights must be an "
                                             r"int >= 0 or a CPU torch.Generator"):
        analyze_weights(net, seed=-1)
    with pytest.raises(DeepscopeError, match="'dtype' parameter"):
        analyze_weights(net, dtype=torch.int64)
    a = analyze_weights(net, dtype=torch.float64, randomize=False)
    assert a.params["dtype"] == "float64"
    with pytest.raises(DeepscopeError, match="no Linear, Conv"):
        analyze_weights(torch.nn.ReLU())
    bad = MLP((4, 3, 2))
    with torch.no_grad():
        bad.fc2.weight[0, 0] = float("nan")
    with pytest.raises(DeepscopeError, match="Weights of layer 'fc2' contain NaN"):
        analyze_weights(bad)


def test_alpha_agrees_with_weightwatcher():
    ww = pytest.importorskip("weightwatcher")
    import logging
    import warnings

    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    net = _trained_mlp(widths=(64, 300, 200, 10), steps=40)
    ours = analyze_weights(net, randomize=False).to_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ww.WeightWatcher(model=net).analyze(mp_fit=True)
    for i in range(2):  # layers with >= 20 eigenvalues (WW uses another fit below 20)
        assert ours.alpha[i] == pytest.approx(theirs.alpha[i], abs=0.02)
        assert ours.xmin[i] == pytest.approx(theirs.xmin[i], rel=1e-4)
        assert ours.lambda_max[i] == pytest.approx(theirs.lambda_max[i], rel=1e-5)
        assert ours.stable_rank[i] == pytest.approx(theirs.stable_rank[i], rel=1e-5)
        assert ours.log_alpha_norm[i] == pytest.approx(theirs.log_alpha_norm[i], abs=0.02)
        assert ours.n_spikes[i] == theirs.num_spikes[i]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    net = _trained_mlp()
    cpu = analyze_weights(net).to_frame()
    gpu = analyze_weights(net.cuda()).to_frame()
    for col in ("alpha", "xmin", "lambda_max", "n_spikes", "rand_lambda_max"):
        np.testing.assert_allclose(gpu[col], cpu[col], rtol=1e-6)


def test_batched_eigensolves_equal_one_matrix_at_a_time():
    # a mobile-net pattern: many small Gram matrices of the same size (1x1 convs, depthwise
    # slices, linears) go through one eigvalsh call with the randomised ones; each matrix
    # analysed alone gives the same eigenvalues, alpha and MP fit
    from deepscope.lenses.spectra import matrices as _mat

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        *[torch.nn.Conv2d(16, 48, 1) for _ in range(4)], torch.nn.Conv2d(48, 48, 3, groups=48),
        torch.nn.Conv2d(16, 16, 3), *[torch.nn.Linear(16, 40) for _ in range(3)])
    res = analyze_weights(net)
    mats = weight_matrices(net)
    rand = _mat.permuted(mats, 0)
    frame = res.to_frame()
    assert len({m.M for m in mats}) < len(mats)  # sizes shared: batched together
    for i, m in enumerate(mats):
        ev = esd(m).double()
        np.testing.assert_allclose(res.eigenvalues[i], ev.numpy(), rtol=1e-6,
                                   atol=1e-7 * float(ev[-1]))
        alone = torch.sort(_mat.batched_eigenvalues([rand[i]], None)[0].reshape(-1)).values
        np.testing.assert_allclose(res.random_eigenvalues[i], alone.double().numpy(),
                                   rtol=1e-6, atol=1e-7 * float(alone[-1]))
        if m.M * m.n_slices >= 10:
            assert frame.alpha[i] == pytest.approx(analyze_weights(
                torch.nn.ModuleList([net[i]]), mp_fit=False, randomize=False).to_frame().alpha[0])
        assert frame.n_spikes[i] == fit_marchenko_pastur(ev, m.q, m=m.M).n_spikes
