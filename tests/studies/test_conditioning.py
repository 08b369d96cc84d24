import numpy as np
import pandas as pd
import pytest
import torch

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies._config import from_sets
from deepscope.studies.conditioning import (
    KERNEL,
    ConditioningConfig,
    _patches,
    curvatures,
    curve_matrix,
    gd_iterations_to,
    piecewise_linear,
    population_gd_error,
)

TINY = ["n=20", "iterations=300", "eval_every=100", "n_test=200", "condition_ns=10-20-40",
        "batch_size=32", "check_n=8", "check_iterations=20000"]


def test_curve_matrix_inverse_is_the_second_difference_convolution():
    n = 12
    w = curve_matrix(n)
    p, f = piecewise_linear(5, n, 3, torch.Generator().manual_seed(0))
    assert torch.allclose(f, p @ w.T)
    assert torch.allclose(_patches(f) @ torch.tensor(KERNEL, dtype=torch.float64), p)
    assert ((p != 0).sum(1) == 3).all()


def test_exact_curvatures_match_sampled_ones():
    n, k = 10, 3
    h_fc, h_conv = curvatures(n, k)
    _, f = piecewise_linear(200000, n, k, torch.Generator().manual_seed(1))
    assert torch.allclose(f.T @ f / len(f) / n, h_fc, rtol=0.03, atol=1e-3 * h_fc.max())
    q = _patches(f)
    emp = torch.einsum("mja,mjb->ab", q, q) / (len(f) * n)
    assert torch.allclose(emp, h_conv, rtol=0.03)


def test_closed_form_gd_error_equals_iterated_gradient_descent():
    n, k, steps = 9, 3, [0, 1, 5, 40, 300]
    h_fc, h_conv = curvatures(n, k)
    e_p = k / n   # E|p|^2 / n
    w_inv = torch.linalg.inv(curve_matrix(n))
    kernel = torch.tensor(KERNEL, dtype=torch.float64)
    U, u, uc = (torch.zeros(n, n, dtype=torch.float64), torch.zeros(3, dtype=torch.float64),
                torch.zeros(3, dtype=torch.float64))
    lr_fc = 1 / torch.linalg.eigvalsh(h_fc)[-1]
    lr_conv = 1 / torch.linalg.eigvalsh(h_conv)[-1]
    got = {"fc": [], "conv": [], "conv+conditioning": []}
    for t in range(max(steps) + 1):
        if t in steps:
            d_fc, d_conv, d_c = U - w_inv, u - kernel, uc - kernel
            got["fc"].append(float(torch.trace(d_fc @ h_fc @ d_fc.T)) / e_p)
            got["conv"].append(float(d_conv @ h_conv @ d_conv) / e_p)
            got["conv+conditioning"].append(float(d_c @ h_conv @ d_c) / e_p)
        U = U - lr_fc * (U - w_inv) @ h_fc
        u = u - lr_conv * h_conv @ (u - kernel)
        uc = uc - 0.5 * (uc - kernel)   # H^-1 times the gradient H (u - kernel)
    for learner, values in got.items():
        assert np.allclose(population_gd_error(learner, n, k, steps), values, rtol=1e-6,
                           atol=1e-12), learner


def test_gd_iterations_to_is_the_first_crossing():
    for learner in ("fc", "conv", "conv+conditioning"):
        t = gd_iterations_to(learner, 12, 3, 0.05)
        before, at = population_gd_error(learner, 12, 3, [t - 1, t])
        assert before > 0.05 >= at


def test_default_config_orders_the_learners_by_orders_of_magnitude():
    cfg = ConditioningConfig()
    assert (cfg.n, cfg.k) == (100, 3)
    its = [gd_iterations_to(name, cfg.n, cfg.k, cfg.error_threshold)
           for name in ("fc", "conv", "conv+conditioning")]
    assert its[0] > 10 * its[1] and its[1] > 1e4 * its[2]
    assert 1e8 < its[0] < 1e9 and 1e6 < its[1] < 1e7 and its[2] == 3


def test_bad_config():
    with pytest.raises(DeepscopeError, match="'k' parameter of ConditioningConfig"):
        from_sets(ConditioningConfig, ["n=10", "k=11"])
    with pytest.raises(DeepscopeError, match="'check_n' parameter of ConditioningConfig"):
        from_sets(ConditioningConfig, ["check_n=2"])


def test_tiny_run_orders_the_learners_and_conditions(tmp_path):
    run = studies.run_study("conditioning", sets=TINY, root=tmp_path)
    df = run.measurements()
    cond = df[df.lens == "conditioning"].pivot_table(index="step", columns="metric",
                                                     values="value")
    assert (np.diff(cond["cond_WtW"].to_numpy()) > 0).all()
    slope = np.polyfit(np.log(cond.index), np.log(cond["cond_WtW"]), 1)[0]
    assert slope > 3.5
    assert np.allclose(cond["cond_conv_whitened"], 1.0, atol=1e-6)
    # SGD at the small n reaches the threshold for all three, ordered, near exact GD
    check = df[(df.lens == "summary_check")].pivot_table(index="layer", columns="metric",
                                                         values="value")
    sgd, gd = check["iterations_to_threshold"], check["gd_iterations_to_threshold"]
    assert sgd["fc"] > 3 * sgd["conv"] > 100 * sgd["conv+conditioning"]
    assert np.allclose(sgd, gd, rtol=0.25)
    # at n: SGD follows exact gradient descent; only the conditioned learner converges
    tr = df[df.lens == "training"]
    last = tr[tr.step == tr.step.max()].set_index("layer").value
    assert last["conv+conditioning"] < 1e-12 < 0.5 < last["conv"]
    conv = tr[tr.layer == "conv"].sort_values("step")
    exact = population_gd_error("conv", 20, 3, conv.step.to_numpy())
    assert np.allclose(conv.value, exact, atol=0.03)
    table = studies.get("conditioning").summary_table(run)
    assert list(table.learner) == ["fc", "conv", "conv+conditioning"]
    assert (run.path / "report.html").exists()


def test_same_config_same_numbers(tmp_path):
    a = studies.run_study("conditioning", sets=TINY, root=tmp_path / "a", report=False)
    b = studies.run_study("conditioning", sets=TINY, root=tmp_path / "b", report=False)
    pd.testing.assert_frame_equal(a.measurements(), b.measurements())


def test_default_check_n_measures_the_order_with_sgd(tmp_path):
    # the default small-n check: SGD reaches the threshold for all three learners, in order
    run = studies.run_study("conditioning", sets=["iterations=10", "condition_ns=10-20"],
                            root=tmp_path, report=False)
    df = run.measurements()
    check = df[(df.lens == "summary_check")].pivot_table(index="layer", columns="metric",
                                                         values="value")
    sgd = check["iterations_to_threshold"]
    assert sgd["fc"] > 4 * sgd["conv"] > 400 * sgd["conv+conditioning"]
    assert np.allclose(sgd, check["gd_iterations_to_threshold"], rtol=0.15)


def test_resume_after_an_interruption_gives_the_same_rows(tmp_path, monkeypatch):
    import deepscope.studies.conditioning as cond
    from deepscope.store import RunStore

    full = studies.run_study("conditioning", sets=TINY, root=tmp_path / "a", report=False)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(cond, "_check", interrupted)
        with pytest.raises(KeyboardInterrupt):
            studies.run_study("conditioning", sets=TINY, root=tmp_path / "b", report=False)
    run_id = RunStore(tmp_path / "b").list()["id"].iloc[0]
    resumed = studies.run_study("conditioning", sets=TINY, root=tmp_path / "b",
                                resume=run_id, report=False)
    keys = ["lens", "layer", "metric", "step"]
    a = full.measurements().sort_values(keys).reset_index(drop=True)
    b = resumed.measurements().sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
