"""Tests of the end-to-end-vs-decomposition study (Shalev-Shwartz et al. 2017, Section 3)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.nets.tuple_net import SegmentNet, TupleNet
from deepscope.studies._config import from_sets
from deepscope.studies.end_to_end.parts import one_hot_moments
from deepscope.studies.end_to_end import EndToEndConfig

TINY = ["ks=1,3", "steps=4", "batch_size=4", "n_test=16", "eval_every=2", "snr_ks=1,2",
        "snr_examples=8", "snr_warmup=1", "one_hot_ks=1,4", "one_hot_examples=200",
        "channels=2", "hidden=4", "head_hidden=4"]


def test_tuple_net_shares_the_image_net_across_the_tuple():
    torch.manual_seed(0)
    net = TupleNet(3, channels=4, hidden=(6,), head_hidden=5)
    x = torch.rand(2, 3, 1, 28, 28)
    scores = net.image_scores(x)
    assert scores.shape == (2, 3) and net(x).shape == (2,)
    torch.testing.assert_close(scores[1, 2], net.image_net(x[1, 2:3])[0, 0])
    perm = x[:, [2, 0, 1]]
    torch.testing.assert_close(net.image_scores(perm), scores[:, [2, 0, 1]])
    assert [n for n, _ in SegmentNet().named_children()][-3:] == ["fc2", "relu4", "score"]
    assert SegmentNet().fc1.in_features == 256  # 16 x 4 x 4 for 28 x 28 inputs


def test_one_hot_example_ratio_is_about_k_and_the_decomposition_moment_is_exact():
    for k in (1, 4, 16):
        res = one_hot_moments(k, 200, 20000, 0, torch.device("cpu"))
        assert res["ratio"] == pytest.approx(k, rel=0.15 if k > 1 else 1e-9)
        assert res["decomposition/second_moment"] == pytest.approx(
            res["decomposition/exact"], rel=0.1)


def test_config_validation():
    c = from_sets(EndToEndConfig, ["ks=2-5", "snr_head=mlp"])
    assert c.ks == (2, 5) and c.snr_head == "mlp"
    with pytest.raises(DeepscopeError, match="'snr_head' parameter of EndToEndConfig"):
        from_sets(EndToEndConfig, ["snr_head=sum"])
    with pytest.raises(DeepscopeError, match="'ks' parameter of EndToEndConfig"):
        EndToEndConfig(ks=(0,))


def test_tiny_run_records_all_parts_and_is_reproducible(tmp_path):
    run = studies.run_study("end-to-end-vs-decomposition", sets=TINY, root=tmp_path / "a")
    assert run.manifest["status"] == "done"
    assert (run.path / "report.html").exists()
    df = run.measurements()
    tr = df[df.lens == "training"]
    assert set(tr.layer) == {"end-to-end k=1", "decomposition k=1", "end-to-end k=3",
                             "decomposition k=3"}
    assert sorted(tr.step.unique()) == [0, 2, 4]
    assert tr.value.between(0, 1).all()
    snr = df[(df.lens == "gradient_snr") & (df.metric == "snr")]
    assert set(snr.layer) == {"end-to-end k=1", "decomposition k=1", "end-to-end k=2",
                              "decomposition k=2"}
    # for k = 1 the product head makes both losses identical
    e, d = (snr[snr.layer == f"{m} k=1"].value.iloc[0] for m in ("end-to-end", "decomposition"))
    assert e == pytest.approx(d)
    assert set(df[df.lens == "one_hot"].layer) == {"k=1", "k=4"}
    table = studies.get("end-to-end-vs-decomposition").summary_table(run)
    assert list(table.k) == [1, 2, 3]
    again = studies.run_study("end-to-end-vs-decomposition", sets=TINY, root=tmp_path / "b")
    pd.testing.assert_frame_equal(df, again.measurements())
