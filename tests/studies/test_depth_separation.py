"""Tests of the depth-separation study (tiny configs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies._config import from_sets
from deepscope.studies.depth_separation import DepthSeparationConfig

TINY = ["max_depth=10", "target_depth=2", "deep_depths=2", "shallow_widths=2-16",
        "n_train=64", "steps=150", "seeds=1"]


def test_equal_budget_architectures():
    c = from_sets(DepthSeparationConfig, ["deep_width=4", "deep_depths=2-3",
                                          "shallow_widths=8"])
    archs = c.architectures()
    assert [a[0] for a in archs] == ["deep 4x2", "shallow 11 (= 33 params)", "deep 4x3",
                                     "shallow 17 (= 53 params)", "shallow 8"]
    assert archs[0][1] == (1, 4, 4, 1) and archs[1][1] == (1, 11, 1)
    assert [a[2] for a in archs] == ["budget"] * 4 + ["sweep"]
    with pytest.raises(DeepscopeError, match="'deep_depths' parameter of DepthSeparationConfig"):
        from_sets(DepthSeparationConfig, ["deep_depths=0"])
    with pytest.raises(DeepscopeError, match="'max_depth' parameter"):
        from_sets(DepthSeparationConfig, ["max_depth=30"])


def test_tiny_run_counts_2_to_the_L_pieces_and_trains(tmp_path):
    run = studies.run_study("depth-separation", sets=TINY, root=tmp_path)
    assert run.manifest["status"] == "done" and (run.path / "report.html").exists()
    df = run.measurements()
    cons = df[df.lens == "construction"].pivot_table(index="step", columns="metric",
                                                      values="value")
    depths = np.arange(1, 11)
    np.testing.assert_array_equal(cons.index, depths)
    np.testing.assert_array_equal(cons["pieces"], 2.0**depths)
    np.testing.assert_array_equal(cons["regions"], 2.0**depths)
    np.testing.assert_array_equal(cons["params"], 6 * depths + 1)
    assert (cons["l1_error"] == 0).all()
    budget = df[df.lens == "budget"].pivot_table(index="layer", columns="metric",
                                                 values="value")
    assert set(budget.index) == {"deep 4x2", "shallow 11 (= 33 params)"}
    assert budget.loc["deep 4x2", "params"] == 33 and budget.loc["shallow 11 (= 33 params)",
                                                                 "params"] == 34
    sweep = df[df.lens == "sweep"].pivot_table(index="layer", columns="metric", values="value")
    # a one-hidden-layer net with m units has at most m + 1 pieces
    for name, row in sweep.iterrows():
        assert 1 <= row["pieces"] <= int(name.split()[1]) + 1
        assert 0 <= row["l1_error"] <= 1
    fits = df[df.lens == "fit"]
    assert set(fits.layer) == {"target", "deep 4x2", "shallow 11 (= 33 params)", "shallow 2",
                               "shallow 16"}
    summary = studies.get("depth-separation").summary_table(run)
    assert "constructed L=10 (vs its own sawtooth)" in set(summary.net)
    assert [f.name for f in studies.get("depth-separation").figures(run)] == [
        "pieces", "trained", "fits"]


def test_same_config_same_numbers(tmp_path):
    sets = TINY + ["max_depth=3", "shallow_widths=4"]
    a = studies.run_study("depth-separation", sets=sets, root=tmp_path / "a", report=False)
    b = studies.run_study("depth-separation", sets=sets, root=tmp_path / "b", report=False)
    pd.testing.assert_frame_equal(a.measurements(), b.measurements())
