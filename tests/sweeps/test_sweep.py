"""ds.sweep on the local executor: plan, hashed ids, resume, failures, killed workers/driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import deepscope as ds
from deepscope.errors import DeepscopeError, DeepscopeValueError
from deepscope.store import RunStore
from deepscope.sweeps import LocalExecutor, list_sweeps, open_sweep, run_id
from deepscope.sweeps.plan import parse_grid, seed_groups
from tests.sweeps import toy_study  # noqa: F401  (registers sweep-toy)

GRID = {"scale": [1.0, 2.0], "mode": ["a", "b"]}


def _rows(sw) -> "object":
    return sw.query("SELECT run_id, seed, step, metric, count(*) AS n FROM measurements "
                    "GROUP BY ALL HAVING n > 1")


# ----------------------------------------------------------------------------- the plan


def test_run_id_hashes_config_seeds_and_versions_not_threads():
    cfg = {"scale": 1.0, "seeds": 1, "first_seed": 0, "threads": 1}
    a = run_id("sweep-toy", cfg, [0])
    assert a == run_id("sweep-toy", {**cfg, "threads": 2}, [0])
    assert a != run_id("sweep-toy", {**cfg, "scale": 2.0}, [0])
    assert a != run_id("sweep-toy", cfg, [1])
    assert a != run_id("sweep-toy-stacked", cfg, [0])
    assert a.startswith("r-") and len(a) == 18


def test_run_id_changes_with_the_deepscope_version(monkeypatch):
    cfg = {"scale": 1.0}
    before = run_id("sweep-toy", cfg, [0])
    monkeypatch.setattr(ds, "__version__", "99.0")
    assert run_id("sweep-toy", cfg, [0]) != before


def test_seed_groups_are_consecutive_runs():
    assert seed_groups([0, 1, 2, 3, 4], 2) == [[0, 1], [2, 3], [4]]
    assert seed_groups([0, 1, 5, 6], 10) == [[0, 1], [5, 6]]


def test_parse_grid_and_its_errors():
    assert parse_grid(["activation=tanh,relu", "lr=1e-3"]) == {
        "activation": ["tanh", "relu"], "lr": ["1e-3"]}
    with pytest.raises(DeepscopeValueError, match="key=v1,v2"):
        parse_grid(["activation"])
    with pytest.raises(DeepscopeValueError, match="twice"):
        parse_grid(["a=1", "a=2"])


def test_bad_settings_fail_before_anything_runs(tmp_path):
    with pytest.raises(DeepscopeValueError, match="no field 'nope'"):
        ds.sweep("sweep-toy", grid={"nope": [1]}, root=tmp_path)
    with pytest.raises(DeepscopeValueError, match="'mode'"):
        ds.sweep("sweep-toy", grid={"mode": ["a", "zzz"]}, root=tmp_path)
    with pytest.raises(DeepscopeValueError, match="may not set 'seeds'"):
        ds.sweep("sweep-toy", grid={"seeds": [1, 2]}, root=tmp_path)
    with pytest.raises(DeepscopeValueError, match="'seeds' parameter of sweep"):
        ds.sweep("sweep-toy", seeds=0, root=tmp_path)
    with pytest.raises(DeepscopeValueError, match="'executor' parameter of sweep"):
        ds.sweep("sweep-toy", executor="slurm", root=tmp_path)
    with pytest.raises(DeepscopeValueError, match="Unknown study"):
        ds.sweep("no-such-study", root=tmp_path)
    assert not (tmp_path / "sweeps").exists()


def test_local_executor_keeps_workers_times_threads_within_cores():
    ex = LocalExecutor()
    assert ex.workers * ex.threads <= ex.cores
    with pytest.raises(DeepscopeValueError, match="'threads' parameter of LocalExecutor"):
        LocalExecutor(workers=ex.cores, threads=2)


# ----------------------------------------------------------------------------- running


def test_sweep_runs_every_cell_and_seed_as_ordinary_runs(tmp_path):
    sw = ds.sweep("sweep-toy", grid=GRID, seeds=2, root=tmp_path, report=False)
    m = sw.manifest
    assert m["status"] == "done" and sw.status == "done"
    assert len(m["cells"]) == 4 and len(m["runs"]) == 8
    assert m["executor"]["name"] == "local"
    runs = sw.runs()
    assert set(runs["status"]) == {"done"} and set(runs["attempts"]) == {1}
    # ordinary runs of the store, with the hashed id as folder name
    listed = RunStore(tmp_path).list()
    assert set(listed["id"]) == set(runs["run_id"])
    run = RunStore(tmp_path).open(runs["run_id"][0])
    assert run.config["threads"] == LocalExecutor().threads
    means = sw.query("SELECT sweep_id, scale, mode, avg(value) AS v, count(*) AS n "
                     "FROM measurements GROUP BY ALL ORDER BY scale, mode")
    assert list(means["n"]) == [6, 6, 6, 6]
    assert set(means["sweep_id"]) == {sw.id}
    # scale * mean(step 0..2) + bonus + 0.01 * mean(seed)
    assert means["v"].round(6).tolist() == [1.005, 1.505, 2.005, 2.505]
    assert _rows(sw).empty


def test_rerun_skips_finished_runs_and_stacked_study_keeps_seed_groups(tmp_path):
    sw = ds.sweep("sweep-toy-stacked", grid={"mode": ["a", "b"]}, seeds=3, root=tmp_path,
                  report=False)
    assert len(sw.manifest["runs"]) == 2  # one run per cell holds all three seeds
    assert sw.manifest["runs"][0]["seeds"] == [0, 1, 2]
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("part-*.parquet")}
    again = ds.sweep("sweep-toy-stacked", grid={"mode": ["a", "b"]}, seeds=3, root=tmp_path,
                     report=False)
    assert again.id == sw.id and again.manifest["status"] == "done"
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("part-*.parquet")} == mtimes
    assert again.manifest["resumed"]
    split = ds.sweep("sweep-toy-stacked", grid={"mode": ["a"]}, seeds=3, seed_group=2,
                     root=tmp_path, report=False)
    assert [r["seeds"] for r in split.manifest["runs"]] == [[0, 1], [2]]


def test_a_failing_run_is_retried_then_recorded_without_losing_the_others(tmp_path):
    sw = ds.sweep("sweep-toy", grid={"mode": ["a", "b"]}, seeds=3, fixed={"fail_seed": 1},
                  retries=1, root=tmp_path, report=False)
    m = sw.manifest
    assert m["status"] == "incomplete"
    failed = [r for r in m["runs"] if r["status"] == "failed"]
    assert [r["seeds"] for r in failed] == [[1], [1]]
    assert all(r["attempts"] == 2 and "seed 1 fails" in r["error"] for r in failed)
    done = [r for r in m["runs"] if r["status"] == "done"]
    assert len(done) == 4
    assert len(sw.measurements()) == 4 * 3
    assert list_sweeps(tmp_path)["failed"].tolist() == [2]


def test_a_run_failing_once_resumes_from_its_checkpoint(tmp_path):
    marker = tmp_path / "once"
    sw = ds.sweep("sweep-toy", seeds=1, fixed={"once": str(marker), "steps": 4},
                  root=tmp_path, report=False)
    entry = sw.manifest["runs"][0]
    assert entry["status"] == "done" and entry["attempts"] == 2
    run = RunStore(tmp_path).open(entry["run_id"])
    assert len(run.manifest["resumed"]) == 1
    df = run.measurements()
    assert sorted(df["step"]) == [0, 1, 2, 3]  # step 0 kept from the first attempt, once


def test_a_killed_worker_is_retried_and_other_runs_survive(tmp_path):
    marker = tmp_path / "once"
    sw = ds.sweep("sweep-toy", grid={"mode": ["a", "b"]}, seeds=2,
                  fixed={"once": str(marker), "kill": True, "steps": 3}, root=tmp_path,
                  report=False)
    m = sw.manifest
    assert marker.exists()  # a worker did die
    assert m["status"] == "done", m["runs"]
    assert max(r["attempts"] for r in m["runs"]) == 2
    assert len(sw.measurements()) == 4 * 3
    assert _rows(sw).empty


def test_resume_of_an_unknown_sweep_names_the_known_ones(tmp_path):
    ds.sweep("sweep-toy", seeds=1, root=tmp_path, report=False)
    with pytest.raises(DeepscopeValueError, match="Sweeps: sw-"):
        ds.sweep(resume="sw-nope", root=tmp_path)


def test_resume_refuses_a_sweep_of_another_version(tmp_path, monkeypatch):
    sw = ds.sweep("sweep-toy", seeds=1, root=tmp_path, report=False)
    monkeypatch.setattr(ds, "__version__", "99.0")
    with pytest.raises(DeepscopeValueError, match="start a new sweep"):
        ds.sweep(resume=sw.id, root=tmp_path)


_DRIVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    import tests.sweeps.toy_study
    import deepscope as ds
    ds.sweep("sweep-toy", grid={{"mode": ["a", "b"]}}, seeds=3, workers=1,
             fixed={{"sleep": 0.15, "steps": 4}}, root={root!r}, report=False)
""")


@pytest.mark.slow  # a fresh interpreter imports torch: 10-20 s on a busy 2-core machine
def test_a_killed_driver_resumes_to_the_same_rows_without_duplicates(tmp_path):
    repo = str(Path(__file__).resolve().parents[2])
    script = tmp_path / "driver.py"
    script.write_text(_DRIVER.format(repo=repo, root=str(tmp_path / "runs")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    deadline = time.time() + 60
    sweeps = tmp_path / "runs" / "sweeps"
    while time.time() < deadline:  # wait until a run is done and another one has started
        found = list(sweeps.glob("*/sweep.json")) if sweeps.is_dir() else []
        parts = list((tmp_path / "runs" / "sweep-toy").glob("*/parts/part-*.parquet"))
        if found and len(parts) >= 6:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    sw = open_sweep("sw-", tmp_path / "runs")
    assert sw.status == "interrupted"
    time.sleep(0.3)  # the worker dies with its driver
    resumed = ds.sweep(resume=sw.id, root=tmp_path / "runs", report=False)
    assert resumed.manifest["status"] == "done", [(r["status"], r["error"]) for r in resumed.manifest["runs"]]
    df = resumed.measurements()
    assert len(df) == 6 * 4
    assert _rows(resumed).empty
    expect = {(s, st) for s in range(3) for st in range(4)}
    for _, g in df.groupby("mode"):
        assert set(zip(g["seed"], g["step"])) == expect


def test_a_busy_sweep_is_not_driven_twice(tmp_path):
    sw = ds.sweep("sweep-toy", seeds=1, root=tmp_path, report=False)
    m = sw.manifest
    m.update(status="running", pid=os.getpid())
    sw.write_manifest(m)
    with pytest.raises(DeepscopeError, match="is running"):
        ds.sweep("sweep-toy", seeds=1, root=tmp_path, report=False)


def test_sweep_manifest_is_json_with_the_spec(tmp_path):
    sw = ds.sweep("sweep-toy", grid=["scale=1,3"], seeds=[4, 7], fixed=["steps=2"],
                  root=tmp_path, report=False)
    m = json.loads((sw.path / "sweep.json").read_text())
    assert m["grid"] == {"scale": [1.0, 3.0]} and m["seeds"] == [4, 7]
    assert m["fixed"] == {"steps": 2} and m["seed_group"] == 1
    assert m["versions"]["deepscope"] == ds.__version__
    assert sorted(sw.measurements()["seed"].unique()) == [4, 7]


def test_sweep_is_lazy_on_the_package_and_reruns_check_bit_identical(tmp_path):
    import deepscope.sweeps

    assert "sweep" in ds.__all__ and ds.sweep is deepscope.sweeps.sweep
    sw = ds.sweep("sweep-toy", grid={"mode": ["b"]}, seeds=2, root=tmp_path, report=False)
    first = sw.manifest["runs"][0]["run_id"]
    assert sw.check_rerun(first)
    with pytest.raises(DeepscopeValueError, match="'run_id' parameter of Sweep.check_rerun"):
        sw.check_rerun("r-nope")
