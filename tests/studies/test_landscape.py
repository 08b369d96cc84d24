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
                                      "hessian_density", "barrier"}
    again = studies.run_study("landscape", sets=TINY, root=tmp_path / "b",
                              report=False).measurements()
    cols = ["step", "lens", "layer", "metric", "seed"]
    keep = again.metric != "train_s"
    pd.testing.assert_frame_equal(df[keep][cols].reset_index(drop=True),
                                  again[keep][cols].reset_index(drop=True))
    np.testing.assert_allclose(df[keep].value.to_numpy(), again[keep].value.to_numpy(),
                               rtol=0, atol=0, equal_nan=True)
