"""Tests of the flat-activations study (Shalev-Shwartz et al. 2017, Section 5)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies._config import from_sets
from deepscope.studies.flat_activations import (
    APPROACHES, FlatActivationsConfig, _build, target, train_approach,
)
from tests.studies._support import Interrupt

TINY = ["dim=10", "steps=30", "batch_size=16", "n_test=200", "eval_every=10", "hidden=8"]


def test_forward_only_gradient_is_the_papers_update_rule():
    cfg = FlatActivationsConfig(dim=10)
    u, v, b = target(cfg, 0)
    model, loss_fn, _, _ = _build("forward-only", cfg, u, torch.device("cpu"))
    with torch.no_grad():
        model.w.copy_(torch.randn(10) * 30)
        model.b.fill_(0.1)
    from deepscope.data.staircase import staircase_data
    dat = staircase_data(64, u, v, b, seed=3)
    loss_fn(model, dat).backward()
    err = u(dat.x @ model.w.detach() + 0.1) - dat.y
    torch.testing.assert_close(model.w.grad, (err[:, None] * dat.x).mean(0))
    torch.testing.assert_close(model.b.grad, err.mean())


def test_forward_only_learns_the_steps_where_end_to_end_does_not():
    cfg = FlatActivationsConfig(dim=20, steps=1200, eval_every=1200, n_test=2000)
    width = 2 * cfg.z_range / cfg.n_steps
    final = {}
    for a in ("forward-only", "end-to-end"):
        out = []
        train_approach(a, cfg, 0, torch.device("cpu"), lambda s, m: out.append(m))
        final[a] = out[-1]
    assert final["forward-only"] < 0.5 * width ** 2 / 12  # below the rounding error
    assert final["forward-only"] < final["end-to-end"]


def test_config_validation():
    c = from_sets(FlatActivationsConfig, ["approaches=forward-only", "hidden=20-20"])
    assert c.approach_list() == ["forward-only"] and c.hidden == (20, 20)
    assert FlatActivationsConfig().approach_list() == list(APPROACHES)
    with pytest.raises(DeepscopeError, match="'approaches' parameter of FlatActivationsConfig"):
        from_sets(FlatActivationsConfig, ["approaches=newton"])
    with pytest.raises(DeepscopeError, match="'temperature' parameter"):
        FlatActivationsConfig(temperature=0.0)


def test_tiny_run_records_every_approach_and_is_reproducible(tmp_path):
    run = studies.run_study("flat-activations", sets=TINY, root=tmp_path / "a")
    assert run.manifest["status"] == "done"
    assert (run.path / "report.html").exists()
    df = run.measurements()
    tr = df[df.metric == "test_mse"]
    assert set(tr.layer) == set(APPROACHES)
    assert sorted(tr.step.unique()) == [0, 10, 20, 30]
    assert (tr.value >= 0).all()
    table = studies.get("flat-activations").summary_table(run)
    assert list(table.approach) == list(APPROACHES)
    again = studies.run_study("flat-activations", sets=TINY, root=tmp_path / "b")
    pd.testing.assert_frame_equal(df, again.measurements())


def test_interrupted_run_resumes_to_the_same_numbers(tmp_path):
    keys = ["step", "lens", "layer", "metric", "seed"]
    full = studies.run_study("flat-activations", sets=TINY, root=tmp_path / "full",
                             report=False).measurements()
    with pytest.raises(KeyboardInterrupt):
        studies.run_study("flat-activations", sets=TINY, root=tmp_path / "cut", report=False,
                          progress=Interrupt(after=2))
    from deepscope.store import RunStore

    store = RunStore(root=tmp_path / "cut")
    run_id = store.list().id.iloc[0]
    kept = store.open(run_id).measurements()
    assert 0 < len(kept) < len(full)
    resumed = studies.run_study("flat-activations", root=tmp_path / "cut", resume=run_id,
                                report=False)
    assert resumed.manifest["status"] == "done"
    pd.testing.assert_frame_equal(
        resumed.measurements().sort_values(keys, kind="stable").reset_index(drop=True),
        full.sort_values(keys, kind="stable").reset_index(drop=True))
