import pandas as pd
import pytest
import torch

from deepscope import studies
from deepscope.data.parity import random_subset
from deepscope.errors import DeepscopeError
from deepscope.studies._config import from_sets
from deepscope.studies.parity.training import ParityGroup
from deepscope.studies.parity import ParityConfig, hinge

TINY = ["dims=4-6", "max_iterations=1500", "eval_every=500", "variance_dims=2-3",
        "periodic_dims=3-4", "periodic_r=1,3", "periodic_samples=512",
        "periodic_directions=8", "n_test=500", "seeds=2", "exact_max_d=4",
        "sampled_inputs=256"]


def test_defaults_are_the_paper_protocol():
    c = ParityConfig()
    assert c.dims == (5, 10, 20, 30) and c.width_factor == 10 and c.lr == 0.01
    assert c.batch_size == 128 and c.max_iterations == 50000 and c.target_accuracy == 0.99


def test_bad_config_values_are_named():
    with pytest.raises(DeepscopeError, match="'lr' parameter of ParityConfig"):
        from_sets(ParityConfig, ["lr=0"])
    with pytest.raises(DeepscopeError, match="'variance_dims' parameter of ParityConfig"):
        from_sets(ParityConfig, ["variance_dims=30"])


def test_hand_written_step_matches_autograd():
    d, seeds = 6, [0, 1]
    g = ParityGroup(d, 12, seeds, [random_subset(d, seed=s) for s in seeds],
                    torch.device("cpu"))
    nets = [g.module(i) for i in range(2)]
    states = [gen.get_state() for gen in g.gens]
    x = g.sample(128)
    for gen, st in zip(g.gens, states):
        gen.set_state(st)
    y = g.labels(x)
    g.step(128, 0.01)
    for i, net in enumerate(nets):
        loss = hinge(net(x[i]), y[i])
        grads = torch.autograd.grad(loss, list(net.parameters()))
        with torch.no_grad():
            for p, gr in zip(net.parameters(), grads):
                p -= 0.01 * gr
        new = g.module(i)
        for a, b in zip(net.parameters(), new.parameters()):
            assert torch.allclose(a, b, atol=1e-6)


def test_stacked_nets_equal_nets_trained_alone():
    d = 5
    both = ParityGroup(d, 10, [0, 1], [(0, 1), (2, 3)], torch.device("cpu"))
    alone = ParityGroup(d, 10, [1], [(2, 3)], torch.device("cpu"))
    assert torch.equal(both.W[1], alone.W[0])  # same init whatever the group
    for _ in range(10):
        both.step(64, 0.05)
        alone.step(64, 0.05)
    # the batch stream is per seed too: training beside seed 0 changes nothing for seed 1
    for key in ("W", "b", "u", "c"):
        assert torch.equal(getattr(both, key)[1], getattr(alone, key)[0]), key
    test = torch.Generator().manual_seed(3)
    assert torch.equal(both.sample(16, test)[1],
                       alone.sample(16, torch.Generator().manual_seed(3))[0])


def test_tiny_run_learns_small_parities_and_records_everything(tmp_path):
    run = studies.run_study("parity", sets=TINY, root=tmp_path)
    assert run.manifest["status"] == "done" and (run.path / "report.html").exists()
    df = run.measurements()
    assert set(df.lens) == {"gradients", "periodic", "training", "final"}
    var = df[(df.lens == "gradients") & (df.metric == "variance")]
    assert set(var.layer) == {"d=2", "d=3", "d=4", "d=6"}
    exact = df[(df.lens == "gradients") & (df.metric == "exact")].set_index("layer").value
    assert exact["d=4"].min() == 1.0 and exact["d=6"].max() == 0.0  # 6 > exact_max_d
    fin = df[df.lens == "final"]
    assert (fin[fin.layer == "d=4"].value >= 0.99).all()
    table = studies.get("parity").summary_table(run)
    assert list(table.d) == [4, 6]
    assert len(studies.get("parity").figures(run)) == 3


def test_same_config_same_numbers(tmp_path):
    a = studies.run_study("parity", sets=TINY, root=tmp_path / "a", report=False)
    b = studies.run_study("parity", sets=TINY, root=tmp_path / "b", report=False)
    pd.testing.assert_frame_equal(a.measurements(), b.measurements())


@pytest.mark.slow
def test_paper_protocol_learns_d10_and_stays_at_chance_for_d30(tmp_path):
    # the default protocol (width 10 d, hinge, SGD lr 0.01, batch 128, 50k steps) on one seed
    sets = ["dims=10-30", "seeds=1", "variance_dims=2", "periodic_dims=3", "periodic_r=1",
            "periodic_samples=256", "periodic_directions=4", "n_test=20000",
            "sampled_inputs=1024"]
    run = studies.run_study("parity", sets=sets, root=tmp_path, report=False)
    fin = run.measurements().query("lens == 'final'").set_index("layer").value
    assert fin["d=10"] >= 0.99
    assert abs(fin["d=30"] - 0.5) <= 0.03


def test_run_study_sets_the_threads_field_while_running_and_restores_it(tmp_path):
    import contextlib

    seen = []

    def progress(description, total):
        seen.append(torch.get_num_threads())
        return contextlib.nullcontext(type("T", (), {"advance": lambda self, n=1: None,
                                                      "update": lambda self, **k: None})())

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        studies.run_study("parity", sets=TINY + ["threads=1"], root=tmp_path, report=False,
                          progress=progress)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
