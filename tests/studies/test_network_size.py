"""Tests of the network-size study (Neyshabur et al. 2015, 2017)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies._generalization import mlp
from deepscope.studies.network_size import NetworkSizeConfig
from tests.studies._support import Interrupt

TINY = ["widths=8-64", "seeds=1", "max_epochs=12", "pac_bayes=false"]


def test_mlp_is_seeded_without_the_global_rng():
    state = torch.random.get_rng_state()
    a, b = mlp(4, 5, 2, 3, seed=1), mlp(4, 5, 2, 3, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert len([m for m in a if isinstance(m, torch.nn.Linear)]) == 3


def test_config_validation():
    with pytest.raises(DeepscopeError, match="'widths' parameter of NetworkSizeConfig"):
        NetworkSizeConfig(widths=(0,))


@pytest.mark.slow
def test_tiny_run_resumes_to_the_same_numbers(tmp_path):
    from deepscope.store import RunStore
    from deepscope.studies.network_size.figures import measure_table, summary_table

    keys = ["step", "lens", "layer", "metric", "seed"]
    full = studies.run_study("network-size", sets=TINY, root=tmp_path / "full")
    table = summary_table(full)
    assert list(table.width) == [8, 64] and (table["test error"] < 0.3).all()
    assert set(measure_table(full).columns) >= {"measure", "tau with test error"}
    with pytest.raises(KeyboardInterrupt):
        studies.run_study("network-size", sets=TINY, root=tmp_path / "cut", report=False,
                          progress=Interrupt(after=1))
    run_id = RunStore(root=tmp_path / "cut").list().id.iloc[0]
    resumed = studies.run_study("network-size", root=tmp_path / "cut", resume=run_id,
                                report=False)
    pd.testing.assert_frame_equal(
        resumed.measurements().sort_values(keys, kind="stable").reset_index(drop=True),
        full.measurements().sort_values(keys, kind="stable").reset_index(drop=True))
