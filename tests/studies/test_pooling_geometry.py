"""Tests of the pooling-geometry study (Cohen & Shashua 2017)."""

from __future__ import annotations

import pytest
import torch

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies.pooling_geometry import PoolingGeometryConfig
from deepscope.studies.pooling_geometry import work

TINY = ["size=8", "n_train=64", "n_test=32", "steps=5", "seeds=1", "channels=2",
        "templates=2", "relu_channels=4", "log_every=5"]


def test_tiny_run_records_every_net_and_the_rank_bounds(tmp_path):
    run = studies.run_study("pooling-geometry", sets=TINY, root=tmp_path / "a")
    table = studies.get("pooling-geometry").summary_table(run)
    assert len(table) == 8 and set(table.net) == set(work.NETS)
    conv = table[table.net.str.startswith("convac")].set_index(["task", "net"])
    sq = conv.loc[("symmetry", "convac-square"), "log2 rank bound left-right"]
    mi = conv.loc[("symmetry", "convac-mirror"), "log2 rank bound left-right"]
    assert sq < mi                                       # mirror pooling: high left-right rank
    assert (run.path / "report.html").exists()


@pytest.mark.slow
def test_same_config_same_numbers(tmp_path):
    a, b = (studies.run_study("pooling-geometry", sets=TINY, root=tmp_path / k,
                              report=False).measurements() for k in "ab")
    keep = lambda d: d[d.metric != "train_s"].reset_index(drop=True)  # noqa: E731
    assert keep(a).equals(keep(b))


@pytest.mark.slow
def test_mirror_pooling_wins_symmetry():
    cfg = PoolingGeometryConfig(tasks="symmetry", n_train=2000, n_test=1000, steps=400)
    data = work.task_data(cfg, "symmetry", 0)
    acc = {}
    for name in ("convac-square", "convac-mirror"):
        net, lr = work.build(cfg, name, 0)
        from deepscope.train import fit

        fit(net, torch.nn.functional.cross_entropy, (data[0].one_hot(), data[0].labels),
            optimizer="adam", lr=lr, steps=cfg.steps, batch_size=64, seed=0)
        with torch.no_grad():
            acc[name] = float((net(data[1].one_hot()).argmax(1) == data[1].labels)
                              .float().mean())
    assert acc["convac-mirror"] > 0.9 and acc["convac-square"] < 0.65


def test_config_errors():
    with pytest.raises(DeepscopeError, match="'size'"):
        PoolingGeometryConfig(size=12)
    with pytest.raises(DeepscopeError, match="'tasks'"):
        PoolingGeometryConfig(tasks="parity")
