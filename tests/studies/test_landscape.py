import numpy as np
import pandas as pd
import pytest

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies._config import from_sets
from deepscope.studies.landscape import LandscapeConfig

TINY = ["archs=mlp", "seeds=2", "small_epochs=1", "large_epochs=2", "plane_steps=3",
        "line_steps=3", "interp_steps=3", "density_iter=4", "density_runs=1",
        "sharpness_steps=1", "trace_rtol=0.5", "trace_max_hvp=30", "mlp_widths=64-6-10",
        "small_batch=256", "large_batch=1348"]


def test_config_validates_with_named_fields():
    c = from_sets(LandscapeConfig, ["seeds=4", "archs=cnn"])
    assert c.seed_list() == [0, 1, 2, 3] and c.units()[0] == ("cnn", "small", 0)
    with pytest.raises(DeepscopeError, match=r"'plane_steps' parameter of LandscapeConfig "
                                             r"must be an odd int"):
        LandscapeConfig(plane_steps=20)
    with pytest.raises(DeepscopeError, match="'archs' parameter"):
        from_sets(LandscapeConfig, ["archs=resnet"])
    with pytest.raises(DeepscopeError, match="from 64 inputs to 10 classes"):
        from_sets(LandscapeConfig, ["mlp_widths=12-10"])


def test_tiny_run_records_everything_builds_a_report_and_is_reproducible(tmp_path):
    run = studies.run_study("landscape", sets=TINY, root=tmp_path / "a")
    assert run.manifest["status"] == "done"
    df = run.measurements()
    keys = ["mlp/small", "mlp/large"]
    assert list(dict.fromkeys(df[df.lens == "curvature"].layer)) == keys
    for lens, n in (("plane", 9), ("line", 3), ("density", 200)):
        part = df[(df.lens == lens) & (df.layer == "mlp/small") & (df.seed == 0)]
        assert part[part.metric.isin(["loss", "density"])].step.nunique() == n
    interp = df[df.lens == "interpolation"]
    assert set(interp.metric) >= {"loss_plain", "loss_aligned", "barrier_plain",
                                  "barrier_aligned"}
    sharp = df[df.lens == "sharpness"].value
    assert (sharp >= 0).all()
    assert (run.path / "report.html").exists()
    table = studies.get("landscape").summary_table(run)
    assert list(table["network/batch"]) == keys
    figs = studies.get("landscape").figures(run)
    assert {f.name for f in figs} == {"loss_lines", "loss_contours", "loss_surfaces",
                                      "hessian_density", "barrier", "overview"}
    # cross-checks between the recorded training losses and the lenses' grids
    for key in keys:
        for seed in (0, 1):
            train = df[(df.lens == "training") & (df.layer == key) & (df.seed == seed)]
            train_loss = float(train[train.metric == "train_loss"].value.iloc[0])
            plane = df[(df.lens == "plane") & (df.layer == key) & (df.seed == seed)]
            line = df[(df.lens == "line") & (df.layer == key) & (df.seed == seed)
                      & (df.metric == "loss")]
            np.testing.assert_allclose(plane.sort_values("step").value.iloc[4], train_loss,
                                       rtol=1e-6)
            np.testing.assert_allclose(line.sort_values("step").value.iloc[1], train_loss,
                                       rtol=1e-6)
            assert int(train[train.metric == "steps"].value.iloc[0]) == (
                5 if key.endswith("small") else 2)
        ends = [float(df[(df.lens == "training") & (df.layer == key) & (df.seed == s)
                         & (df.metric == "train_loss")].value.iloc[0]) for s in (0, 1)]
        for tag in ("plain", "aligned"):
            path = df[(df.lens == "interpolation") & (df.layer == key)
                      & (df.metric == f"loss_{tag}")].sort_values("step").value.to_numpy()
            np.testing.assert_allclose(path[[0, -1]], ends, rtol=1e-5)
    again = studies.run_study("landscape", sets=TINY, root=tmp_path / "b",
                              report=False).measurements()
    cols = ["step", "lens", "layer", "metric", "seed"]
    keep = again.metric != "train_s"
    pd.testing.assert_frame_equal(df[keep][cols].reset_index(drop=True),
                                  again[keep][cols].reset_index(drop=True))
    np.testing.assert_allclose(df[keep].value.to_numpy(), again[keep].value.to_numpy(),
                               rtol=0, atol=0, equal_nan=True)


def test_training_stops_at_the_target_loss():
    import torch

    from deepscope.studies.landscape.work import evaluate, make_net, train
    from deepscope.studies.landscape import _data

    x, y, _, _ = _data("mlp", "cpu")
    net = make_net("mlp", 0, (64, 16, 10))
    epochs, steps = train(net, x, y, batch_size=256, epochs=50, lr=1e-2, seed=0,
                          target_loss=1.0)
    assert 2 <= epochs < 50 and steps == 5 * epochs
    assert evaluate(net, x, y)[0] < 1.0 and not net.training
    # the check before the last one did not stop it: the loss was still above the target
    before = make_net("mlp", 0, (64, 16, 10))
    assert train(before, x, y, batch_size=256, epochs=epochs - 2, lr=1e-2, seed=0) == (
        epochs - 2, 5 * (epochs - 2))
    assert evaluate(before, x, y)[0] >= 1.0
    # same seed, same number of epochs, no target: the same weights
    same = make_net("mlp", 0, (64, 16, 10))
    train(same, x, y, batch_size=256, epochs=epochs, lr=1e-2, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), same.parameters()))
