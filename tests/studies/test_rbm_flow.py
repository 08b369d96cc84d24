"""Tests of the rbm-flow study (Iso, Shiba & Yokoo 2018) on tiny configs."""

import pytest

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies._config import from_sets
from deepscope.studies.rbm_flow import RbmFlowConfig
from deepscope.studies.rbm_flow.work import flow_steps

TINY = ["L=4", "temperatures=1,2,3,5", "n_per_temperature=60", "n_test=20", "flow_samples=10",
        "hidden=4", "rbm_epochs=2", "thermometer_epochs=2", "flow_iterations=6", "seeds=2",
        "flow_starts=1,5"]


def test_flow_steps():
    assert flow_steps(50) == [0, 1, 2, 3, 5, 10, 20, 30, 50]


def test_config_validation():
    c = from_sets(RbmFlowConfig, ["hidden=16-64", "temperatures=1.5,2.5"])
    assert c.hidden == (16, 64) and c.temperatures == (1.5, 2.5) and c.threads == 1
    with pytest.raises(DeepscopeError, match="'flow_samples' parameter of RbmFlowConfig"):
        RbmFlowConfig(flow_samples=400, n_test=300)
    with pytest.raises(DeepscopeError, match="'temperatures'"):
        RbmFlowConfig(temperatures=(1.0, -2.0))


def test_tiny_run_is_reproducible(tmp_path):
    a = studies.run_study("rbm-flow", sets=TINY, root=tmp_path / "a")
    b = studies.run_study("rbm-flow", sets=TINY, root=tmp_path / "b")
    assert a.manifest["status"] == "done" and (a.path / "report.html").exists()
    table = studies.get("rbm-flow").summary_table(a)
    assert len(table) == 2 and set(table["start T"]) == {1.0, 5.0}
    ma, mb = a.measurements(), b.measurements()
    assert ma.equals(mb)
    assert {"flow", "svd", "thermometer", "rbm", "data"} <= set(ma.lens)
