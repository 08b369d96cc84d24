"""Nothing in a run folder is unpickled; `runs query` reads the runs folder only."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.store import RunStore
from deepscope.studies._registry import CHECKPOINT, StudyContext, load_checkpoint


class _Planted:
    """Unpickling this writes a marker file: a harmless stand-in for arbitrary code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _planted_run(tmp_path, study="info-plane"):
    store = RunStore(tmp_path / "runs")
    run = store.create(study=study, config={"epochs": 1}, seeds=[0])
    run.set_status("interrupted")
    return store, run


def test_planted_checkpoint_is_refused_without_running_it(tmp_path):
    from deepscope.studies import run_study

    marker = tmp_path / "pwned"
    store, run = _planted_run(tmp_path)
    payload = {"state": _Planted(str(marker)), "part": -1}
    run.write_artifact(CHECKPOINT, lambda fh: torch.save(payload, fh))
    control = tmp_path / "control.pt"
    torch.save({"state": _Planted(str(tmp_path / "control")), "part": -1}, control)
    torch.load(control, weights_only=False)  # what deepscope used to do: the proof is real
    assert (tmp_path / "control").exists()
    with pytest.raises(DeepscopeError, match="Refusing to load checkpoint") as info:
        run_study("info-plane", root=store.root, resume=run.id, report=False)
    assert len(str(info.value).splitlines()) == 1
    assert not marker.exists()


def test_raw_pickle_as_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(pickle.dumps({"state": _Planted(str(marker)), "part": 0}))
    with pytest.raises(DeepscopeError, match="Refusing to load checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()
    path.write_bytes(b"")
    with pytest.raises(DeepscopeError, match="Refusing to load checkpoint"):
        load_checkpoint(path)


def test_checkpoint_state_must_be_plain(tmp_path):
    store, run = _planted_run(tmp_path)
    ctx = StudyContext(run=run, device=torch.device("cpu"))
    with pytest.raises(DeepscopeError, match=r"numpy.ndarray at state\['a'\]"):
        ctx.checkpoint({"a": np.zeros(2)})
    with pytest.raises(DeepscopeError, match="holds a"):
        ctx.checkpoint({"a": [np.float64(1.0)]})
    state = {"w": torch.ones(2), "done": [[0, "x"], (1, 2)], "t": {"s": 1.5}, "n": None,
             "sd": torch.nn.Linear(2, 1).state_dict(), "g": torch.Generator().get_state()}
    ctx.checkpoint(state)
    saved = load_checkpoint(run.path / CHECKPOINT)
    assert saved["part"] == -1 and saved["state"]["done"] == [[0, "x"], (1, 2)]


def test_planted_partition_pickles_are_never_read(tmp_path):
    from deepscope.studies.linear_regions.partitions import first_partitions, load_partitions

    marker = tmp_path / "pwned"
    folder = tmp_path / "partitions"
    folder.mkdir()
    (folder / "toy-mlp-seed0.pkl").write_bytes(pickle.dumps(_Planted(str(marker))))
    with pytest.warns(UserWarning, match="never unpickled"):
        assert first_partitions(folder) is None
    # an NPZ holding a pickled object array
    np.savez(folder / "toy-mlp-seed0.npz", steps=np.array([0]),
             task=np.array([_Planted(str(marker))], dtype=object))
    with pytest.raises(DeepscopeError, match="Refusing to read partitions") as info:
        load_partitions(folder / "toy-mlp-seed0.npz")
    assert len(str(info.value).splitlines()) == 1
    assert not marker.exists()


def test_partitions_round_trip_npz(tmp_path):
    from deepscope.lenses.regions import regions_in_plane
    from deepscope.studies.linear_regions.partitions import load_partitions, save_partitions

    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.ReLU(), torch.nn.Linear(6, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    res = regions_in_plane(net, torch.zeros(2), torch.eye(2), (-2.0, 2.0, -2.0, 2.0))
    path = tmp_path / "p.npz"
    with open(path, "wb") as fh:
        save_partitions(fh, "moons", np.zeros((3, 2)), np.array([0, 1, 0]), {5: res})
    back = load_partitions(path)
    got = back["partitions"][5]
    assert back["task"] == "moons" and got.count == res.count
    np.testing.assert_array_equal(got.areas, res.areas)
    np.testing.assert_array_equal(got.predicted(), res.predicted())
    for a, b in zip(got.polygons, res.polygons):
        np.testing.assert_array_equal(a, b)
    assert len(got.boundary) == len(res.boundary)


# --------------------------------------------------------------------------- runs query


@pytest.fixture()
def store(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.create(study="s", config={}, seeds=[0])
    run.record(step=0, lens="l", layer="a", metric="m", value=1.0)
    run.flush()
    run.set_status("done")
    return store


def test_query_reads_the_store(store):
    assert store.query("SELECT count(*) AS n FROM measurements")["n"][0] == 1
    assert store.query("SELECT study FROM runs")["study"][0] == "s"


@pytest.mark.parametrize("sql, match", [
    ("SELECT * FROM read_csv('/etc/hostname')", "disabled|Permission"),
    ("SELECT * FROM read_text('/etc/passwd')", "disabled|Permission"),
    ("COPY (SELECT 1) TO 'out.csv'", "read-only query"),
    ("INSTALL httpfs", "read-only query"),
    ("LOAD httpfs", "read-only query"),
    ("ATTACH 'x.duckdb'", "read-only query"),
    ("CREATE TABLE t AS SELECT 1", "read-only query"),
    ("SET enable_external_access = true", "read-only query"),
    ("SELECT 1; SELECT 2", r"one SQL statement \(got 2\)"),
    ("", r"one SQL statement \(got 0\)"),
    ("   ;  ", r"one SQL statement"),
    ("SELEC 1", "Query failed"),
])
def test_query_is_sandboxed(store, tmp_path, monkeypatch, sql, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DeepscopeError, match=match) as info:
        store.query(sql)
    assert len(str(info.value).splitlines()) == 1
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "x.duckdb").exists()


def test_query_cannot_write_inside_the_runs_folder_either(store):
    target = (store.root / "x.csv").as_posix()
    with pytest.raises(DeepscopeError, match="read-only query"):
        store.query(f"COPY (SELECT 1) TO '{target}'")
    assert not (store.root / "x.csv").exists()


def test_query_skips_and_names_a_damaged_part(store):
    run = store.open(store.scan()[0][0]["id"])
    (run.parts_dir / "part-00001.parquet").write_bytes(b"garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert store.query("SELECT count(*) AS n FROM measurements")["n"][0] == 1
    assert any("part-00001.parquet" in str(w.message) for w in caught)
