"""Tests of the boolean-machines study and its exact combinatorics."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.store import RunStore
from deepscope.studies.boolean_machines import functions as B
from deepscope.studies._config import from_sets
from deepscope.studies.boolean_machines import BooleanMachinesConfig
from tests.studies._support import Interrupt

TINY = ["max_bits=3", "hidden_units=1-2", "data_bits=3", "targets=20", "orders=2",
        "steps=300"]


@pytest.mark.parametrize(("n", "count"), [(1, 4), (2, 14), (3, 104), (4, 1882)])
def test_threshold_function_counts_are_the_known_numbers(n, count):
    tables, info = B.threshold_tables(n)
    assert tables.size == count
    assert info["lps"] == info["classes"] == {1: 2, 2: 4, 3: 14, 4: 222}[n]  # NPN classes
    assert np.all(np.diff(tables) > 0)


def _grid_threshold_tables(n, wmax):
    """Oracle: tables of [w.x + b > 0] over a grid of integer weights, half-integer biases."""
    pts = B.cube_points(n)
    ws = np.array(list(itertools.product(range(-wmax, wmax + 1), repeat=n)))
    bs = np.arange(-n * wmax - 0.5, n * wmax + 1.0, 1.0)
    act = (ws @ pts.T)[:, None, :] + bs[None, :, None] > 0  # (W, B, 2^N)
    return np.unique((act.astype(np.int64) << np.arange(2**n)).sum(-1))


@pytest.mark.parametrize(("n", "wmax"), [(2, 1), (3, 2), (4, 3)])
def test_lp_enumeration_matches_an_integer_weight_grid(n, wmax):
    # every threshold function of <= 4 inputs has integer weights of size <= 3 (Muroga)
    np.testing.assert_array_equal(B.threshold_tables(n)[0], _grid_threshold_tables(n, wmax))


def test_orbit_classification_agrees_with_one_lp_per_function():
    tables = set(B.threshold_tables(3)[0].tolist())
    for t in range(256):
        assert B.realisable(t, 3) == (t in tables)
    rng = np.random.default_rng(0)
    t4 = set(B.threshold_tables(4)[0].tolist())
    for t in rng.choice(65536, 60, replace=False):
        assert B.realisable(int(t), 4) == (int(t) in t4)
    for t in rng.choice(sorted(t4), 20, replace=False):
        assert B.realisable(int(t), 4)


def test_xor_and_parity_need_a_hidden_layer():
    xor2 = 0b0110
    assert not B.realisable(xor2, 2)
    t1, t2, t3 = (B.threshold_tables(k)[0] for k in (1, 2, 3))
    seen = B.compose_counts(t2, t2, 2, 2)
    assert seen.sum() == 16 and seen[xor2]
    parity3 = sum(1 << i for i in range(8) if bin(i).count("1") % 2)
    two = B.compose_counts(t3, t2, 3, 2)
    assert two.sum() == 254 and not two[parity3] and not two[255 ^ parity3]
    three = B.compose_counts(t3, t3, 3, 3)
    assert three.sum() == 256
    # one hidden unit adds nothing: g(h(x)) is again a threshold function
    np.testing.assert_array_equal(np.flatnonzero(B.compose_counts(t3, t1, 3, 1)), t3)


def test_compose_counts_matches_brute_force_over_ordered_tuples():
    t2 = B.threshold_tables(2)[0]
    brute = set()
    for h1, h2 in itertools.product(t2, repeat=2):
        for g in t2:
            f = 0
            for i in range(4):
                code = ((h1 >> i) & 1) | (((h2 >> i) & 1) << 1)
                f |= ((g >> code) & 1) << i
            brute.add(f)
    assert set(np.flatnonzero(B.compose_counts(t2, t2, 2, 2)).tolist()) == brute
    assert B.compose_counts(t2, t2, 2, 2, max_work=10) is None


def test_consistent_counts_and_smallest_sufficient():
    cands = np.array([0b0000, 0b0001, 0b0011, 0b0111])
    # target 0b0011 seen on inputs {0, 2}: bit0 = 1, bit2 = 0 -> 0b0001 and 0b0011 agree
    assert B.consistent_counts(cands, np.array([0b0011]), np.array([0b0101])).tolist() == [2]
    assert B.consistent_counts(cands, np.array([0b0011]), np.array([0b1111])).tolist() == [1]
    flags = np.array([[0, 1, 0, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=bool)
    assert B.smallest_sufficient(flags).tolist() == [4, 1, 6]


@pytest.mark.parametrize("learner", ["perceptron", "logistic"])
def test_units_fit_separable_subsets_and_recover_from_all_inputs(learner):
    tables = B.threshold_tables(3)[0]
    targets = tables[(tables != 0) & (tables != 255)]
    full = np.full(targets.size, 255)
    recovered, fitted = B.train_units(targets, full, 3, learner=learner, steps=2000, lr=1.0)
    assert fitted.all() and recovered.all()
    # one training input cannot pin down a 3-bit function
    rec1, fit1 = B.train_units(targets, np.ones(targets.size, dtype=np.int64), 3,
                               learner=learner, steps=50)
    assert fit1.all() and not rec1.all()


def test_config_validation_names_fields():
    with pytest.raises(DeepscopeError, match="'max_bits' parameter of BooleanMachinesConfig"):
        from_sets(BooleanMachinesConfig, ["max_bits=5"])
    with pytest.raises(DeepscopeError, match="'learners' parameter"):
        from_sets(BooleanMachinesConfig, ["learners=svm"])
    with pytest.raises(DeepscopeError, match="'hidden_units' parameter"):
        from_sets(BooleanMachinesConfig, ["hidden_units=0-2"])
    c = from_sets(BooleanMachinesConfig, ["learners=logistic", "seeds=2"])
    assert c.learners == ("logistic",) and c.seed_list() == [0, 1]


def test_tiny_run_records_the_counts_and_curves(tmp_path):
    run = studies.run_study("boolean-machines", sets=TINY, root=tmp_path)
    assert run.manifest["status"] == "done" and (run.path / "report.html").exists()
    df = run.measurements()
    funcs = df[(df.lens == "threshold") & (df.metric == "functions")]
    assert dict(zip(funcs.layer, funcs.value)) == {"N=1": 4, "N=2": 14, "N=3": 104}
    stacked = df[(df.lens == "stacked") & (df.layer == "N=3")].set_index("step").value
    assert stacked.to_dict() == {0: 104.0, 1: 104.0, 2: 254.0}
    curves = df[(df.lens == "sufficiency") & (df.metric == "recovery_rate")]
    for layer, part in curves.groupby("layer"):
        assert part.step.tolist() == list(range(1, 9))
        assert part.value.iloc[-1] == 1.0  # all 8 inputs: every learner recovers
        if layer.startswith("determined"):
            assert part.value.iloc[0] == 0.0  # one input never pins down the target
    det = curves[curves.layer == "determined: threshold unit"].value.to_numpy()
    assert np.all(np.diff(det) >= 0)  # more data never un-determines a target
    # the bigger class (254 functions) is never determined before the threshold class
    det2 = curves[curves.layer == "determined: 2 hidden + output"].value.to_numpy()
    assert np.all(det2 <= det + 1e-12)
    summary = studies.get("boolean-machines").summary_table(run)
    assert summary["one unit"].tolist() == [4, 14, 104]
    names = [f.name for f in studies.get("boolean-machines").figures(run)]
    assert names == ["counts", "sufficiency"]


def _sorted(df):
    keys = ["step", "lens", "layer", "metric", "seed"]
    return df.sort_values(keys).reset_index(drop=True)


def test_same_numbers_and_an_interrupted_run_resumes_to_them(tmp_path):
    sets = TINY + ["seeds=2"]
    a = studies.run_study("boolean-machines", sets=sets, root=tmp_path / "a", report=False)
    b = studies.run_study("boolean-machines", sets=sets, root=tmp_path / "b", report=False)
    pd.testing.assert_frame_equal(a.measurements(), b.measurements())
    with pytest.raises(KeyboardInterrupt):  # 9 count steps, then stop after seed 0
        studies.run_study("boolean-machines", sets=sets, root=tmp_path / "c", report=False,
                          progress=Interrupt(after=10))
    store = RunStore(root=tmp_path / "c")
    run_id = store.list().id.iloc[0]
    kept = store.open(run_id).measurements()
    assert set(kept.seed) == {0}
    resumed = studies.run_study("boolean-machines", root=tmp_path / "c", resume=run_id,
                                report=False)
    assert resumed.manifest["status"] == "done"
    pd.testing.assert_frame_equal(_sorted(resumed.measurements()), _sorted(a.measurements()))


def test_cli_runs_the_study_with_sets(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, COLUMNS="200")
    res = subprocess.run(
        [sys.executable, "-m", "deepscope.cli", "run", "boolean-machines",
         "--set", "max_bits=2", "--set", "hidden_units=2", "--set", "data_bits=2",
         "--set", "targets=5", "--set", "orders=1", "--out", str(tmp_path), "--quiet"],
        capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "report.html" in res.stdout
    run_dir = next((tmp_path / "boolean-machines").iterdir())
    df = RunStore(root=tmp_path).open(run_dir.name).measurements()
    funcs = df[(df.lens == "threshold") & (df.metric == "functions")]
    assert dict(zip(funcs.layer, funcs.value)) == {"N=1": 4, "N=2": 14}
    bad = subprocess.run(
        [sys.executable, "-m", "deepscope.cli", "run", "boolean-machines", "--set",
         "max_bits=9", "--out", str(tmp_path)], capture_output=True, text=True, env=env,
        timeout=300)
    assert bad.returncode == 2 and "max_bits" in (bad.stdout + bad.stderr)
