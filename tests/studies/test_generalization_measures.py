"""Tests of the generalization-measures study (Jiang et al. 2020)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies.generalization_measures import GeneralizationMeasuresConfig
from deepscope.studies.generalization_measures.figures import granulated

TINY = ["lrs=0.1", "batch_sizes=64,256", "widths=16,32", "depths=1", "seeds=1",
        "max_epochs=60", "pac_bayes=false", "target_loss=0.05"]


def test_granulated_psi_by_hand():
    # gap rises with lr in every cell; the measure follows lr in one cell and opposes it in
    # the other: psi_lr = mean(+1, -1) = 0. Widths: the measure follows width perfectly.
    rows = []
    for seed in (0,):
        for width, sign in ((8, 1), (16, -1)):
            for lr in (0.1, 0.2, 0.3):
                rows.append(dict(lr=lr, batch_size=32, width=width, depth=1, seed=seed,
                                 gap=lr + width / 100, m=sign * lr + width))
    psi = granulated(pd.DataFrame(rows), "m")
    assert psi["lr"] == pytest.approx(0.0)
    assert psi["width"] == pytest.approx(1.0)
    assert np.isnan(psi["depth"])  # depth never varies


def test_config_grid_and_validation():
    c = GeneralizationMeasuresConfig()
    assert len(c.grid()) == 2 * 2 * 2 * 2 * 2
    full = studies._config.from_sets(GeneralizationMeasuresConfig,
                                     ["lrs=0.02,0.05,0.1", "batch_sizes=32-128-512",
                                      "widths=64-128-256", "depths=1-2-3"])
    assert len(full.grid()) == 162
    with pytest.raises(DeepscopeError, match="'widths' parameter"):
        GeneralizationMeasuresConfig(widths=(512,))


@pytest.mark.slow
def test_tiny_zoo_ranks_measures(tmp_path):
    from deepscope.studies.generalization_measures.figures import nets, summary_table

    run = studies.run_study("generalization-measures", sets=TINY, root=tmp_path)
    table = nets(run)
    assert len(table) == 4 and table.reached.sum() >= 3
    ranked = summary_table(run)
    assert {"measure", "tau", "Psi", "psi lr", "psi width"} <= set(ranked.columns)
    assert "log_path_norm_over_margin" in set(ranked.measure)
    assert (run.path / "report.html").exists()


@pytest.mark.slow
def test_interrupted_zoo_resumes_without_retraining(tmp_path):
    from deepscope.store import RunStore
    from tests.studies._support import Interrupt

    keys = ["step", "lens", "layer", "metric", "seed"]
    full = studies.run_study("generalization-measures", sets=TINY, root=tmp_path / "full",
                             report=False)
    with pytest.raises(KeyboardInterrupt):
        studies.run_study("generalization-measures", sets=TINY, root=tmp_path / "cut",
                          report=False, progress=Interrupt(after=2))
    run_id = RunStore(root=tmp_path / "cut").list().id.iloc[0]
    resumed = studies.run_study("generalization-measures", root=tmp_path / "cut",
                                resume=run_id, report=False)
    pd.testing.assert_frame_equal(
        resumed.measurements().sort_values(keys, kind="stable").reset_index(drop=True),
        full.measurements().sort_values(keys, kind="stable").reset_index(drop=True))
