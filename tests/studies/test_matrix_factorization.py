"""Tests of the matrix-factorization study (Gunasekar et al. 2017)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies.matrix_factorization import MatrixFactorizationConfig
from deepscope.studies.matrix_factorization.work import (
    Factorised, GDEngine, min_frobenius, min_nuclear, nuclear, problem,
)


def test_reference_solutions_are_interpolants_and_admm_is_optimal():
    p = problem(8, 30, 1)
    xf, (xn, _) = min_frobenius(p), min_nuclear(p)
    assert p.residual(xf) < 1e-10 and p.residual(xn) < 1e-8
    np.testing.assert_allclose(xf, xf.T, atol=1e-12)
    assert np.linalg.norm(xf) <= np.linalg.norm(p.x_star)  # least Frobenius norm
    # no feasible point has a smaller nuclear norm: X* and random feasible points
    rng = np.random.default_rng(0)
    null = np.linalg.svd(p.a)[2][p.a.shape[0]:]
    for _ in range(50):
        d = (rng.normal(size=null.shape[0]) @ null).reshape(8, 8)
        cand = xn + 0.1 * (d + d.T) / 2
        assert nuclear(cand) >= nuclear(xn) - 1e-8
    assert nuclear(xn) <= nuclear(p.x_star) + 1e-8


def test_engine_step_is_the_autograd_gradient_step():
    p = problem(5, 12, 0)
    fast, slow = Factorised(5, 0.5), Factorised(5, 0.5)
    GDEngine(p, 0.01, 3)(fast, None, None)
    a, y = torch.from_numpy(p.a), torch.from_numpy(p.y)
    opt = torch.optim.SGD(slow.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        (0.5 * ((slow(a) - y) ** 2).mean()).backward()
        opt.step()
    torch.testing.assert_close(fast.u.detach(), slow.u.detach(), rtol=1e-10, atol=1e-12)


def test_config_validation():
    with pytest.raises(DeepscopeError, match="'alphas' parameter of MatrixFactorizationConfig"):
        MatrixFactorizationConfig(alphas=(1.0, 0.0))
    c = studies._config.from_sets(MatrixFactorizationConfig, ["alphas=1,0.01"])
    assert c.alphas == (1.0, 0.01)


def test_small_init_finds_the_low_rank_solution(tmp_path):
    run = studies.run_study("matrix-factorization",
                            sets=["n=8", "measurements=30", "alphas=1,0.001", "steps=8000",
                                  "record_every=500"], root=tmp_path)
    from deepscope.studies.matrix_factorization.figures import summary_table

    t = summary_table(run).set_index("solution")["rel. error to X*"]
    assert t["GD, alpha=0.001"] < 1e-2 < t["min-Frobenius interpolant"]
    assert t["GD, alpha=0.001"] < t["GD, alpha=1"]
