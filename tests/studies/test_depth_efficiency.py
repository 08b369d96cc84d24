"""Tests of the depth-efficiency study (Cohen, Sharir & Shashua 2016)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies._config import from_sets
from deepscope.studies.depth_efficiency import DepthEfficiencyConfig
from deepscope.studies.depth_efficiency.als import cp_als, cp_terms_needed
from deepscope.studies.depth_efficiency.figures import cp_table

TINY = ["n_positions=4-8", "templates=2", "widths=1-2", "random_partitions=1",
        "als_max_n=4", "seeds=1"]


def test_tiny_run_gives_the_theorems_ranks(tmp_path):
    run = studies.run_study("depth-efficiency", sets=TINY, root=tmp_path / "a")
    table = studies.get("depth-efficiency").summary_table(run)
    row = table[(table.N == 8) & (table.r == 2)].set_index("net")
    assert row.loc["deep-square", "odd-even"] == "16" and row.loc["deep-square", "left-right"] == "2"
    assert row.loc["deep-mirror", "left-right"] == "16"
    assert row.loc["shallow Z=r", "odd-even"] == "2"
    assert table["rank = bound"].all()
    cp = cp_table(run)
    assert cp.iloc[0]["lower (matricization)"] == "4" and int(cp.iloc[0]["upper (ALS)"]) >= 4
    assert (run.path / "report.html").exists()


@pytest.mark.slow
def test_same_config_same_numbers(tmp_path):
    keys = ["step", "lens", "layer", "metric", "seed"]
    a, b = (studies.run_study("depth-efficiency", sets=TINY, root=tmp_path / k,
                              report=False).measurements() for k in "ab")
    a, b = (x[x.metric != "als_s"].sort_values(keys).reset_index(drop=True) for x in (a, b))
    pd.testing.assert_frame_equal(a, b)


def test_als_recovers_a_planted_cp_rank():
    rng = np.random.default_rng(0)
    factors = [rng.standard_normal((2, 3)) for _ in range(5)]
    tensor = np.einsum("ar,br,cr,dr,er->abcde", *factors)
    assert cp_als(tensor, 3, rng=rng, max_iter=2000, tol=1e-8) < 1e-6
    z, errors = cp_terms_needed(tensor, 1, 16, seed=0, tol=1e-6, max_iter=2000)
    assert z == 3 and errors[2] > 1e-3


def test_config_errors():
    with pytest.raises(DeepscopeError, match="'n_positions'"):
        DepthEfficiencyConfig(n_positions=(6,))
    with pytest.raises(DeepscopeError, match="'als_tol'"):
        from_sets(DepthEfficiencyConfig, ["als_tol=0"])
