"""Tests of the linear-regions study (tiny configs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.nets import MLP
from deepscope.studies._config import from_sets
from deepscope.studies.linear_regions.training import log_steps
from deepscope.studies.linear_regions import LinearRegionsConfig, measure

TINY = ["n_points=80", "toy_widths=2-8-8-2", "digits_widths=64-8-10", "steps=20",
        "captures=3", "segments=10", "planes=1", "models=toy-mlp,digits-mlp",
        "sweep_widths=4", "sweep_depths=1-2"]


def test_log_steps():
    # round(1001 ** (k / 4) - 1) for k = 0..4: 0, 4.62, 30.6, 176.9, 1000
    assert log_steps(1000, 5) == [0, 5, 31, 177, 1000]
    assert log_steps(20, 3)[0] == 0 and log_steps(20, 3)[-1] == 20


def test_measure_knows_a_one_unit_net():
    # one ReLU unit relu(x1) in 2-D: every segment from x1 < 0 to x1 > 0 crosses once
    net = MLP((2, 1, 1), activation="relu")
    with torch.no_grad():
        net.fc1.weight.copy_(torch.tensor([[1.0, 0.0]]))
        net.fc1.bias.zero_()
    x = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [-1.0, 1.0], [1.0, 1.0]])
    cfg = LinearRegionsConfig(segments=50, planes=2, far_shift=0.0)
    out = measure(net, x, cfg, 0)
    assert out["neurons"] == 1
    assert 0 < out["segment_density"] <= 1 / 2 + 1e-12  # at most 1 crossing per length 2
    assert out["far_segment_density"] == out["segment_density"]  # zero shift
    # a plane through three data points is the whole 2-D input; the line x1 = 0 cuts its box
    # into 2 regions whenever the box straddles it
    assert out["plane_density"] > 0


def test_config_validation():
    with pytest.raises(DeepscopeError, match="'task' parameter of LinearRegionsConfig"):
        from_sets(LinearRegionsConfig, ["task=circles"])
    with pytest.raises(DeepscopeError, match="'toy_widths' parameter"):
        from_sets(LinearRegionsConfig, ["toy_widths=3-8-2"])
    with pytest.raises(DeepscopeError, match="'models' parameter"):
        from_sets(LinearRegionsConfig, ["models=resnet"])


def test_tiny_run_records_densities_sweep_and_partitions(tmp_path):
    run = studies.run_study("linear-regions", sets=TINY, root=tmp_path)
    assert run.manifest["status"] == "done" and (run.path / "report.html").exists()
    df = run.measurements()
    reg = df[df.lens == "regions"]
    assert set(reg.layer) == {"toy-mlp", "digits-mlp"}
    assert sorted(reg.step.unique()) == log_steps(20, 3)
    wide = reg.pivot_table(index=["layer", "step"], columns="metric", values="value")
    assert (wide.loc["toy-mlp", "neurons"] == 16).all()
    assert (wide.loc["digits-mlp", "neurons"] == 8).all()
    assert (wide["segment_density"] >= 0).all() and (wide["plane_density"] > 0).all()
    np.testing.assert_allclose(wide["segment_density_per_neuron"] * wide["neurons"],
                               wide["segment_density"])
    # a box partition of the 2-D net has at least one region
    assert (wide.loc["toy-mlp", "box_regions"] >= 1).all()
    sweep = df[df.lens == "init_sweep"]
    assert set(sweep.layer) == {"toy 4x1", "toy 4x2", "digits 4x1", "digits 4x2"}
    assert (run.path / "partitions" / "toy-mlp-seed0.npz").exists()
    names = [f.name for f in studies.get("linear-regions").figures(run)]
    assert names == ["partition", "densities", "init_sweep"]
    summary = studies.get("linear-regions").summary_table(run)
    assert list(summary.model) == ["toy-mlp", "digits-mlp"]


def test_same_config_same_numbers(tmp_path):
    sets = TINY + ["models=toy-mlp"]
    a = studies.run_study("linear-regions", sets=sets, root=tmp_path / "a", report=False)
    b = studies.run_study("linear-regions", sets=sets, root=tmp_path / "b", report=False)
    pd.testing.assert_frame_equal(a.measurements(), b.measurements())
