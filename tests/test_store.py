"""Tests of deepscope.store: runs on disk, Parquet parts, manifests and DuckDB queries."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from deepscope.errors import DeepscopeError, DeepscopeValueError
from deepscope.store import COLUMNS, Run, RunStore


@pytest.fixture
def store(tmp_path):
    return RunStore(root=tmp_path / "runs")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_create_writes_manifest(store):
    run = store.create(study="info-plane", config={"lr": 1e-3, "sizes": (12, 10)}, seeds=[0, 1])
    assert run.path == store.root / "info-plane" / run.id
    assert (run.path / "manifest.json").is_file() and run.figures_dir.is_dir()
    m = run.manifest
    assert m["status"] == "running" and m["pid"] == os.getpid()
    assert m["config"] == {"lr": 1e-3, "sizes": [12, 10]} == run.config
    assert run.seeds == [0, 1] and run.study == "info-plane"
    assert set(m["versions"]) >= {"deepscope", "torch", "python", "numpy"}
    for key in ("created", "started", "finished", "elapsed_s", "host", "platform", "device",
                "error"):
        assert key in m
    assert len(run.id) == 20 and run.id[8] == "-" and run.id[15] == "-"


def test_ids_are_unique_and_sortable(store):
    ids = [store.create(study="s", config={}, seeds=[0]).id for _ in range(20)]
    assert len(set(ids)) == 20
    assert all(a[:15] <= b[:15] for a, b in zip(ids, ids[1:]))


def test_create_accepts_dataclass_config_and_rejects_bad_input(store):
    @dataclasses.dataclass(frozen=True)
    class Cfg:
        lr: float = 0.1
        layers: tuple = (3, 2)

    run = store.create(study="s", config=Cfg(), seeds=range(3), run_id="my-run")
    assert run.id == "my-run" and run.config == {"lr": 0.1, "layers": [3, 2]}
    assert run.seeds == [0, 1, 2]
    with pytest.raises(DeepscopeValueError, match="already exists"):
        store.create(study="other", config={}, seeds=[0], run_id="my-run")
    with pytest.raises(DeepscopeValueError, match="'study' parameter of RunStore.create"):
        store.create(study="../x", config={}, seeds=[0])
    with pytest.raises(DeepscopeValueError, match="'seeds' parameter"):
        store.create(study="s", config={}, seeds=[0, 0])
    with pytest.raises(DeepscopeValueError, match="'config' parameter"):
        store.create(study="s", config=[1, 2], seeds=[0])


def test_record_flush_measurements_round_trip_exact(store):
    run = store.create(study="s", config={}, seeds=[0, 1])
    values = np.array([0.1, 1 / 3, np.nan, -0.0, 1e-300, 2.0**60])
    run.record(step=np.arange(6), lens="information", layer="fc1", metric="i_xt",
               value=values, seed=0)
    run.record(step=7, lens="information", layer=["fc1", "fc2"], metric="i_ty",
               value=[[0.5], [0.25]], seed=[0, 1])  # (2, 1) x (2,) broadcasts to (2, 2)
    frame = pd.DataFrame({"step": [9], "lens": ["training"], "layer": [""],
                          "metric": ["loss"], "value": [2.5], "seed": [1]})
    assert run.record_frame(frame) == 1
    assert run.pending == 11
    assert run.flush() == 0 and run.pending == 0
    got = run.measurements()
    assert list(got.columns) == list(COLUMNS)
    assert got["step"].dtype == np.int64 and got["seed"].dtype == np.int64
    assert got["value"].dtype == np.float64
    assert got["step"].tolist() == [0, 1, 2, 3, 4, 5, 7, 7, 7, 7, 9]
    assert got["layer"].tolist() == ["fc1"] * 6 + ["fc1", "fc2", "fc1", "fc2", ""]
    assert got["seed"].tolist() == [0] * 6 + [0, 1, 0, 1, 1]
    expected = np.concatenate([values, [0.5, 0.5, 0.25, 0.25, 2.5]])
    np.testing.assert_array_equal(got["value"].to_numpy(), expected)  # bit-exact, NaN kept
    assert np.signbit(got["value"].to_numpy()[3])
    assert Run(run.path).measurements().equals(got)


def test_record_defaults_and_validation(store):
    single = store.create(study="s", config={}, seeds=[7])
    single.record(step=1, lens="l", layer="a", metric="m", value=1.0)
    single.record_frame(pd.DataFrame({"step": [2], "lens": ["l"], "layer": ["a"],
                                      "metric": ["m"], "value": [3]}))
    single.flush()
    assert single.measurements()["seed"].tolist() == [7, 7]
    multi = store.create(study="s", config={}, seeds=[0, 1])
    with pytest.raises(DeepscopeValueError, match="'seed' parameter of Run.record"):
        multi.record(step=1, lens="l", layer="a", metric="m", value=1.0)
    with pytest.raises(DeepscopeValueError, match="do not broadcast"):
        multi.record(step=[1, 2, 3], lens="l", layer="a", metric="m", value=[1.0, 2.0], seed=0)
    with pytest.raises(DeepscopeValueError, match="'step' parameter of Run.record"):
        multi.record(step=1.5, lens="l", layer="a", metric="m", value=1.0, seed=0)
    with pytest.raises(DeepscopeValueError, match="'value' parameter of Run.record"):
        multi.record(step=1, lens="l", layer="a", metric="m", value="high", seed=0)
    with pytest.raises(DeepscopeValueError, match="'frame' parameter of Run.record_frame"):
        multi.record_frame(pd.DataFrame({"step": [1], "value": [1.0]}))
    assert multi.pending == 0 and multi.flush() == -1


def test_flushed_parts_survive_a_crash(store):
    run = store.create(study="s", config={}, seeds=[0])
    run.record(step=[0, 1], lens="l", layer="a", metric="m", value=[1.0, 2.0])
    assert run.flush() == 0
    run.record(step=[2, 3], lens="l", layer="a", metric="m", value=[3.0, 4.0])  # never flushed
    # a crash in the middle of writing the next part leaves only a temporary file behind
    (run.parts_dir / ".part-00001.parquet.99999.tmp").write_bytes(b"PAR1 half written")
    del run
    reopened = store.open(store.list()["id"][0])
    got = reopened.measurements()
    assert got["step"].tolist() == [0, 1] and got["value"].tolist() == [1.0, 2.0]
    assert reopened.last_part == 0
    assert store.query("SELECT count(*) AS n FROM measurements")["n"][0] == 2
    assert store.list()["rows"][0] == 2


def test_truncate_parts(store):
    run = store.create(study="s", config={}, seeds=[0])
    for part in range(3):
        run.record(step=part, lens="l", layer="a", metric="m", value=float(part))
        assert run.flush() == part
    assert run.last_part == 2
    assert run.truncate_parts(after=0) == 2
    assert run.last_part == 0 and run.measurements()["step"].tolist() == [0]
    run.record(step=5, lens="l", layer="a", metric="m", value=5.0)
    assert run.flush() == 1
    assert run.measurements()["step"].tolist() == [0, 5]
    assert run.truncate_parts(after=-1) == 2
    assert run.last_part == -1 and run.measurements().empty
    assert list(run.measurements().columns) == list(COLUMNS)


def test_status_timings_and_resume(store):
    run = store.create(study="s", config={}, seeds=[0])
    with pytest.raises(DeepscopeValueError) as err:
        run.set_status("x")
    assert str(err.value) == (
        "The 'status' parameter of Run.set_status must be one of "
        "{'running', 'done', 'failed', 'interrupted'}. Got 'x'."
    )
    run.record(step=0, lens="l", layer="a", metric="m", value=1.0)
    run.set_status("interrupted")  # a terminal status flushes what was recorded
    m = run.manifest
    assert m["status"] == "interrupted" and m["finished"] and m["elapsed_s"] >= 0
    assert run.last_part == 0
    first = m["elapsed_s"]
    run.mark_resumed()
    m = run.manifest
    assert m["status"] == "running" and len(m["resumed"]) == 1 and m["finished"] is None
    assert m["pid"] == os.getpid() and m["started"] == m["created"]
    run.set_status("failed", error="ValueError: boom")
    m = run.manifest
    assert m["status"] == "failed" and m["error"] == "ValueError: boom"
    assert m["elapsed_s"] >= first


def test_update_manifest_merges(store):
    run = store.create(study="s", config={"a": 1}, seeds=[0])
    run.update_manifest(device="cpu", timings={"train_s": 1.5})
    run.update_manifest(timings={"measure_s": 0.5})
    m = run.manifest
    assert m["device"] == "cpu" and m["timings"] == {"train_s": 1.5, "measure_s": 0.5}
    with pytest.raises(DeepscopeValueError, match="'id' parameter of Run.update_manifest"):
        run.update_manifest(id="other")
    assert json.loads((run.path / "manifest.json").read_text())["config"] == {"a": 1}


def test_artifact_path(store):
    run = store.create(study="s", config={}, seeds=[0])
    path = run.artifact_path("ckpt/checkpoint.pt")
    assert path == run.path / "ckpt" / "checkpoint.pt" and path.parent.is_dir()
    for bad in ("../escape.pt", "/abs.pt", ""):
        with pytest.raises(DeepscopeValueError, match="'name' parameter of Run.artifact_path"):
            run.artifact_path(bad)


def test_open_by_id_prefix_and_errors(store):
    a = store.create(study="s1", config={}, seeds=[0], run_id="20260101-000000-aaaa")
    store.create(study="s2", config={}, seeds=[0], run_id="20260101-000000-aaab")
    store.create(study="s2", config={}, seeds=[0], run_id="20260202-000000-bbbb")
    assert store.open("20260101-000000-aaaa").path == a.path
    assert store.open("20260202").id == "20260202-000000-bbbb"
    assert store.open(str(a.path)).id == a.id
    with pytest.raises(DeepscopeError, match="ambiguous.*aaaa.*aaab"):
        store.open("20260101")
    with pytest.raises(DeepscopeError) as err:
        store.open("20260101-000000-aaxx")
    assert "20260101-000000-aaaa" in str(err.value)
    with pytest.raises(DeepscopeError) as err:
        store.open("zzz")
    assert "20260202-000000-bbbb" in str(err.value)
    with pytest.raises(DeepscopeError, match="has no runs"):
        RunStore(store.root / "empty").open("x")


def test_list_newest_first_and_stale_runs_interrupted(store):
    done = store.create(study="a", config={}, seeds=[0, 1], run_id="20260101-000000-0001")
    done.record(step=[1, 2, 3], lens="l", layer="x", metric="m", value=1.0, seed=0)
    done.set_status("done")
    stale = store.create(study="b", config={}, seeds=[0], run_id="20260102-000000-0002")
    stale.update_manifest(pid=_dead_pid())  # its process is gone, its manifest says running
    live = store.create(study="b", config={}, seeds=[0], run_id="20260103-000000-0003")
    listing = store.list()
    assert list(listing.columns) == ["id", "study", "status", "created", "seeds", "rows",
                                     "elapsed_s"]
    assert listing["id"].tolist() == [live.id, stale.id, done.id]
    assert listing["status"].tolist() == ["running", "interrupted", "done"]
    assert listing["seeds"].tolist() == [1, 1, 2] and listing["rows"].tolist() == [0, 0, 3]
    assert stale.manifest["status"] == "running" and stale.status == "interrupted"
    assert RunStore(store.root / "nothing").list().empty


def test_query_over_two_studies(store):
    r1 = store.create(study="info-plane", config={"lr": 0.5}, seeds=[0])
    r1.record(step=[0, 1], lens="information", layer="fc1", metric="i_xt", value=[1.0, 2.0])
    r1.flush()
    r2 = store.create(study="spectra", config={"lr": 0.25}, seeds=[3])
    r2.record(step=0, lens="spectra", layer=["fc1", "fc2", "fc3"], metric="alpha",
              value=[2.0, 3.0, 4.0])
    r2.flush()
    r2.set_status("done")
    got = store.query(
        "SELECT study, run_id, count(*) AS n, sum(value) AS total, min(seed) AS seed "
        "FROM measurements GROUP BY study, run_id ORDER BY study"
    )
    assert got["study"].tolist() == ["info-plane", "spectra"]
    assert got["run_id"].tolist() == [r1.id, r2.id]
    assert got["n"].tolist() == [2, 3] and got["total"].tolist() == [3.0, 9.0]
    assert got["seed"].tolist() == [0, 3]
    joined = store.query(
        "SELECT r.status, CAST(json_extract(r.config, '$.lr') AS DOUBLE) AS lr, "
        "max(m.value) AS top FROM measurements m JOIN runs r USING (run_id) "
        "GROUP BY ALL ORDER BY lr"
    )
    assert joined["status"].tolist() == ["done", "running"]
    assert joined["lr"].tolist() == [0.25, 0.5] and joined["top"].tolist() == [4.0, 2.0]
    with pytest.raises(DeepscopeError, match="Query failed.*no_such_table"):
        store.query("SELECT * FROM no_such_table")


def test_query_empty_store_has_empty_views(tmp_path):
    empty = RunStore(tmp_path / "none")
    assert empty.query("SELECT * FROM measurements").empty
    assert empty.query("SELECT * FROM runs").empty
    cols = empty.query("SELECT * FROM measurements").columns.tolist()
    assert cols == ["run_id", "study", *COLUMNS]
    store = RunStore(tmp_path / "runs")
    store.create(study="s", config={}, seeds=[0])  # a run without parts yet
    assert store.query("SELECT count(*) AS n FROM measurements")["n"][0] == 0
    assert store.query("SELECT count(*) AS n FROM runs")["n"][0] == 1


def test_write_artifact_bytes_or_writer_atomically(store):
    run = store.create(study="s", config={}, seeds=[0])
    path = run.write_artifact("a/b.bin", b"abc")
    assert path == run.path / "a" / "b.bin" and path.read_bytes() == b"abc"
    run.write_artifact("a/b.bin", lambda fh: fh.write(b"xyz"))
    assert path.read_bytes() == b"xyz"

    def broken(fh):
        fh.write(b"partial")
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        run.write_artifact("a/b.bin", broken)
    assert path.read_bytes() == b"xyz"  # the old file survives a failed write
    assert sorted(p.name for p in path.parent.iterdir()) == ["b.bin"]  # no temp file left
    with pytest.raises(DeepscopeValueError, match="relative path inside the run folder"):
        run.write_artifact("../escape.bin", b"x")


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_a_zombie_process_is_not_alive():
    import time

    from deepscope.store._io import pid_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):                    # exited but not reaped yet: a zombie
            with open(f"/proc/{child.pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.05)
        assert pid_alive(child.pid) is False
        assert pid_alive(os.getpid()) is True
    finally:
        child.wait()
    assert pid_alive(child.pid) is False
