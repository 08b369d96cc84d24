"""A damaged store gives one line per bad file; versions are read, migrated or refused."""

from __future__ import annotations

import json
import warnings

import pytest

from deepscope.errors import DeepscopeError
from deepscope.store import FORMAT, RunStore


@pytest.fixture()
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def _run(store, rows=2):
    run = store.create(study="s", config={"a": 1}, seeds=[0])
    run.record(step=0, lens="l", layer="x", metric="m", value=[1.0] * rows)
    run.flush()
    return run


MANIFESTS = {
    "empty": ("", "manifest.json is empty"),
    "blank": ("  \n", "manifest.json is empty"),
    "truncated": ('{"id": "x", "stu', "is not valid JSON"),
    "list": ("[1, 2, 3]", "holds a JSON list, not an object"),
    "string": ('"run"', "holds a JSON str, not an object"),
    "no id": ('{"study": "s"}', "has no 'id'"),
    "bad format": ('{"id": "x", "study": "s", "format": "two"}', "unknown store format"),
    "binary": (b"\xff\xfe\x00garbage", "cannot be read|not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(MANIFESTS))
def test_damaged_manifest_is_one_line_everywhere(store, case):
    text, message = MANIFESTS[case]
    good, bad = _run(store), _run(store)
    path = bad.path / "manifest.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DeepscopeError, match=message) as info:
        store.open(bad.id)
    assert len(str(info.value).splitlines()) == 1 and str(bad.path) in str(info.value)
    rows, problems = store.scan()
    assert [r["id"] for r in rows] == [good.id]
    assert len(problems) == 1 and bad.id in problems[0]
    with pytest.warns(UserWarning, match="manifest.json"):
        assert list(store.list()["id"]) == [good.id]
    with pytest.warns(UserWarning):
        assert store.query("SELECT count(*) AS n FROM measurements")["n"][0] == 2


@pytest.mark.parametrize("content, message", [(b"", "is empty"),
                                              (b"PAR1 not really", "not a readable Parquet"),
                                              (b"x" * 100, "not a readable Parquet")])
def test_damaged_part_is_named_and_skipped(store, content, message):
    run = _run(store)
    bad = run.parts_dir / "part-00001.parquet"
    bad.write_bytes(content)
    rows, problems = store.scan()
    assert rows[0]["rows"] == 2
    assert len(problems) == 1 and "part-00001.parquet" in problems[0] and message in problems[0]
    with pytest.raises(DeepscopeError, match=f"part part-00001.parquet (is )?{message}") as info:
        run.measurements()
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(DeepscopeError, match="part-00001.parquet"):
        run.rows()


def test_orphans_and_leftovers_are_named(store):
    run = _run(store)
    (store.root / "s" / "orphan").mkdir()
    (store.root / "s" / f".creating-{run.id}x-123").mkdir()
    (run.path / ".manifest.json.4242.tmp").write_text("{")
    (run.parts_dir / ".part-00001.parquet.4242.tmp").write_bytes(b"PAR1")
    rows, problems = store.scan()
    assert [r["id"] for r in rows] == [run.id] and rows[0]["rows"] == 2
    text = "\n".join(problems)
    assert len(problems) == 4
    assert "orphan" in text and "unfinished run creation" in text
    assert text.count("temporary file") == 2


def test_run_creation_is_atomic(store, monkeypatch):
    import deepscope.store._catalog as catalog

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog, "_write_atomic", boom)
    with pytest.raises(KeyboardInterrupt):
        store.create(study="s", config={}, seeds=[0])
    assert not [p for p in (store.root / "s").iterdir()]  # nothing half-made


def test_uncreatable_root_is_one_line(tmp_path):
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(DeepscopeError, match="is a file"):
        RunStore(afile)
    with pytest.raises(DeepscopeError, match="Cannot create a run folder") as info:
        RunStore(afile / "sub").create(study="s", config={}, seeds=[0])
    assert len(str(info.value).splitlines()) == 1


def test_format_recorded_older_read_and_migrated_newer_refused(store):
    run = _run(store)
    assert run.manifest["format"] == FORMAT == run.format
    manifest = run.manifest
    del manifest["format"]  # what deepscope wrote before formats were recorded
    (run.path / "manifest.json").write_text(json.dumps(manifest))
    old = store.open(run.id)
    assert old.format == 1 and len(old.measurements()) == 2
    assert store.scan()[0][0]["format"] == 1
    old.mark_resumed()
    assert old.manifest["format"] == FORMAT and old.manifest["migrated_from"] == 1
    manifest = old.manifest
    manifest.update(format=FORMAT + 1, versions={"deepscope": "9.0.0"})
    (run.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DeepscopeError, match=f"written by deepscope 9.0.0 in store format "
                                             f"{FORMAT + 1}") as info:
        store.open(run.id)
    assert len(str(info.value).splitlines()) == 1 and "upgrade deepscope" in str(info.value)
    rows, problems = store.scan()
    assert rows == [] and "9.0.0" in problems[0]
    with pytest.raises(DeepscopeError, match="format"):
        old.update_manifest(format=1)


def test_no_temporary_file_survives_an_interrupted_write(store, monkeypatch):
    run = _run(store)

    def writer(fh):
        fh.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run.write_artifact("a.bin", writer)
    assert not list(run.path.rglob("*.tmp")) and not (run.path / "a.bin").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.list()
