"""Tests of the max-margin study (Soudry et al. 2018, Fig. 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies.max_margin import MaxMarginConfig
from deepscope.studies.max_margin.engine import Engine, LinearModel, TwoLayerLinear, loss
from deepscope.studies.max_margin.work import grid, hard_margin_svm, separable_data


def _autograd_steps(model, a, lr, n, opt_name="sgd", momentum=0.0):
    at = torch.from_numpy(a)
    opt = (torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum) if opt_name == "sgd"
           else torch.optim.Adam(model.parameters(), lr=lr, eps=1e-8))
    for _ in range(n):
        opt.zero_grad()
        torch.nn.functional.softplus(-model(at)).sum().backward()
        opt.step()


@pytest.mark.parametrize("variant", ["gd", "momentum", "adam", "two-layer"])
def test_engine_matches_autograd_steps(variant):
    x, y = separable_data(4, 0.3, 0)
    a = y[:, None] * x
    lr = 0.05 if variant != "adam" else 0.01
    make = (lambda: TwoLayerLinear(2, 3, 0.3, 1)) if variant == "two-layer" else \
        (lambda: LinearModel(2))
    fast, slow = make(), make()
    eng = Engine(variant, a, np.array([7, 30]), lr, momentum=0.9)
    eng(fast, None, None)
    logs = eng(fast, None, None)
    # torch's SGD momentum: v = mu v + g, w -= lr v  ==  heavy ball v' = mu v' + lr(-g), w += v'
    _autograd_steps(slow, a, lr, 30, "adam" if variant == "adam" else "sgd",
                    0.9 if variant == "momentum" else 0.0)
    np.testing.assert_allclose(fast.direction(), slow.direction(), rtol=1e-9, atol=1e-12)
    assert logs["t"] == 30 and logs["loss"] == pytest.approx(loss(a, fast.direction()))


def test_data_and_svm():
    x, y = separable_data(10, 0.3, 3)
    w, b = hard_margin_svm(x, y)
    np.testing.assert_allclose(w, [0.5, 0.5], atol=1e-6)
    assert abs(b) < 1e-6
    m = np.sort(y * (x @ w))
    np.testing.assert_allclose(m[:4], 1.0, atol=1e-6)  # the four support vectors
    assert m[4] >= 1.3 - 1e-9  # random points strictly off the margin
    g = grid(10**7, 141)
    assert g[0] == 1 and g[-1] == 10**7 and np.all(np.diff(g) > 0)


def test_config_validation():
    with pytest.raises(DeepscopeError, match="'lr_over_beta' parameter of MaxMarginConfig"):
        MaxMarginConfig(lr_over_beta=2.0)
    with pytest.raises(DeepscopeError, match="'variants' parameter"):
        MaxMarginConfig(variants="lbfgs")


def test_short_run_shows_the_soudry_properties(tmp_path):
    run = studies.run_study("max-margin", sets=["steps=1000000", "points=61", "variants=gd"],
                            root=tmp_path)
    from deepscope.studies.max_margin.figures import summary_table

    row = summary_table(run).iloc[0]
    assert row["t L(t) max/min on [1e4, 1e6]"] < 1.05
    assert row["angle gap final"] < row["angle gap @1e3"] < 0.01
    assert 0.5 < row["||w||/log t"] < row["1/gamma_svm"] == pytest.approx(1 / math.sqrt(2))
    df = run.measurements()
    gaps = df[(df.lens == "implicit_bias") & (df.metric == "margin_gap")].sort_values("step")
    assert gaps.value.iloc[-1] < gaps.value.iloc[len(gaps) // 2]
    assert (run.path / "report.html").exists()
