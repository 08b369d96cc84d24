"""Runs on disk: a manifest, tidy measurements in Parquet parts, artifacts; DuckDB queries.

A run is a folder ``<root>/<study>/<id>/``::

    manifest.json           what ran, with which config and seeds, its status and timings
    parts/part-00000.parquet, part-00001.parquet, ...
                            tidy rows: step, lens, layer, metric, value, seed
    figures/                PNG (and SVG) figures written by the report
    report.html             the self-contained report
    checkpoint.pt, ...      artifacts written by studies (``run.artifact_path(name)``)

:meth:`Run.record` buffers rows; :meth:`Run.flush` writes them as the next part. Parts and
the manifest go to a temporary file moved into place with :func:`os.replace`, so a run
killed at any moment keeps every part it flushed and a readable manifest.
:meth:`RunStore.query` reads every run of a folder with one DuckDB glob.

Example:
    >>> store = RunStore(root="runs")
    >>> run = store.create(study="info-plane", config={"lr": 1e-3}, seeds=[0])
    >>> run.record(step=10, lens="information", layer=["fc1", "fc2"], metric="i_xt",
    ...            value=[5.2, 3.1])
    2
    >>> run.flush(), run.set_status("done")
    >>> store.query("SELECT layer, value FROM measurements WHERE metric = 'i_xt'")
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import json
import math
import os
import platform
import re
import secrets
import socket
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deepscope.errors import (
    DeepscopeError,
    DeepscopeValueError,
    check_choice,
    check_int,
    param_error,
)

__all__ = ["COLUMNS", "Run", "RunStore", "STATUSES"]

#: Columns of a run's measurements, in order.
COLUMNS = ("step", "lens", "layer", "metric", "value", "seed")
#: Statuses a run can have.
STATUSES = ("running", "done", "failed", "interrupted")

_MANIFEST = "manifest.json"
_PARTS = "parts"
_PART_RE = re.compile(r"^part-(\d{5,})\.parquet$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_STR_COLS = ("lens", "layer", "metric")
_PROTECTED = frozenset({"id", "study", "created"})
_SCHEMA = pa.schema([("step", pa.int64()), ("lens", pa.string()), ("layer", pa.string()),
                     ("metric", pa.string()), ("value", pa.float64()), ("seed", pa.int64())])
#: Columns of the ``runs`` view of :meth:`RunStore.query` and their SQL types.
_RUN_COLUMNS = (("run_id", "VARCHAR"), ("study", "VARCHAR"), ("status", "VARCHAR"),
                ("created", "VARCHAR"), ("started", "VARCHAR"), ("finished", "VARCHAR"),
                ("elapsed_s", "DOUBLE"), ("seeds", "VARCHAR"), ("device", "VARCHAR"),
                ("config", "VARCHAR"), ("path", "VARCHAR"))


# --------------------------------------------------------------------------- helpers


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _iso(t: _dt.datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def _json_default(obj: Any) -> Any:
    """Turn what configs commonly hold (dataclasses, paths, numpy, tensors) into JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    tolist = getattr(obj, "tolist", None)  # torch tensors
    if callable(tolist):
        return tolist()
    return str(obj)  # torch dtypes and devices, enums, ...


def _dumps(obj: Any, **kwargs: Any) -> str:
    return json.dumps(obj, default=_json_default, allow_nan=True, **kwargs)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and :func:`os.replace`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _pid_alive(pid: Any) -> bool | None:
    """True/False when we can tell whether process ``pid`` on this host lives; else None."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or os.name == "nt":
        return None  # on Windows os.kill would terminate the process: do not probe
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True


def _effective_status(manifest: Mapping[str, Any]) -> str:
    """The manifest's status, with a 'running' run whose process died shown 'interrupted'."""
    status = manifest.get("status", "running")
    if status != "running" or manifest.get("host") != socket.gethostname():
        return status
    return "interrupted" if _pid_alive(manifest.get("pid")) is False else status


def _versions() -> dict[str, str]:
    import torch

    import deepscope  # late: this module may be imported while the package initialises

    return {"deepscope": str(getattr(deepscope, "__version__", "unknown")),
            "torch": torch.__version__, "python": platform.python_version(),
            "numpy": np.__version__, "pandas": pd.__version__}


def _check_name(value: Any, name: str, func: str) -> str:
    """A run, study or figure name that is safe as a file name."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise param_error(name, func, "a name of letters, digits, '.', '_' or '-' (at most "
                          "128, starting with a letter or digit)", value)
    return value


def _check_seeds(seeds: Any, func: str) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise param_error("seeds", func, "a non-empty list of distinct ints", seeds)
    out = [check_int(s, "seeds", func) for s in seeds]
    if not out or len(set(out)) != len(out):
        raise param_error("seeds", func, "a non-empty list of distinct ints", seeds)
    return out


def _as_ints(values: np.ndarray, name: str, func: str) -> np.ndarray:
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    try:
        as_float = values.astype(np.float64)
    except (TypeError, ValueError):
        as_float = None
    if (as_float is None or values.dtype.kind == "b" or not np.isfinite(as_float).all()
            or (as_float != np.round(as_float)).any()):
        raise param_error(name, func, "integers", values.tolist())
    return as_float.astype(np.int64)


# --------------------------------------------------------------------------- a run


class Run:
    """One run folder: its manifest, measurements and artifacts.

    Create runs with :meth:`RunStore.create` and open them with :meth:`RunStore.open`.

    Args:
        path: The run folder (holding ``manifest.json``).

    Raises:
        DeepscopeValueError: ``path`` holds no manifest.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not (self.path / _MANIFEST).is_file():
            raise DeepscopeValueError(f"No run at {str(self.path)!r}: it has no {_MANIFEST}.")
        manifest = self.manifest
        self.id: str = manifest["id"]
        self.study: str = manifest["study"]
        self._buffer: list[dict[str, np.ndarray]] = []

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, study={self.study!r}, path={str(self.path)!r})"

    # ---------------------------------------------------------------- manifest

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest, read from disk."""
        return json.loads((self.path / _MANIFEST).read_text(encoding="utf-8"))

    @property
    def config(self) -> dict[str, Any]:
        """The config the run was created with."""
        return self.manifest.get("config", {})

    @property
    def seeds(self) -> list[int]:
        """The seeds of the run."""
        return list(self.manifest.get("seeds", []))

    @property
    def status(self) -> str:
        """The status, with a stale 'running' run (its process is gone) shown 'interrupted'."""
        return _effective_status(self.manifest)

    @property
    def figures_dir(self) -> Path:
        """The folder figures are written to (created on first use)."""
        path = self.path / "figures"
        path.mkdir(exist_ok=True)
        return path

    def _write_manifest(self, manifest: Mapping[str, Any]) -> None:
        _write_atomic(
            self.path / _MANIFEST, _dumps(manifest, indent=2, sort_keys=False).encode()
        )

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the manifest (dicts are merged key by key, recursively).

        Example: ``run.update_manifest(timings={"train_s": 3.2}, device="cuda:0")``.

        Returns:
            The manifest as written.

        Raises:
            DeepscopeValueError: a field that identifies the run (id, study, created).
        """
        bad = sorted(_PROTECTED & fields.keys())
        if bad:
            raise param_error(
                bad[0], "Run.update_manifest", "a field other than id, study, created", bad[0]
            )
        manifest = self.manifest
        _merge(manifest, fields)
        self._write_manifest(manifest)
        return manifest

    def set_status(self, status: str, error: str | None = None) -> None:
        """Set the status and its timings; a terminal status first flushes buffered rows.

        ``started`` is set once, ``finished`` and ``elapsed_s`` (seconds spent running,
        summed over resumes) on ``done``, ``failed`` and ``interrupted``.

        Args:
            status: One of ``running``, ``done``, ``failed``, ``interrupted``.
            error: What went wrong (kept in the manifest's ``error``).
        """
        check_choice(status, "status", "Run.set_status", STATUSES)
        if error is not None and not isinstance(error, str):
            raise param_error("error", "Run.set_status", "a str or None", error)
        if status != "running":
            self.flush()
        manifest = self.manifest
        now = _now()
        manifest["status"] = status
        manifest["error"] = error
        since = manifest.get("running_since")
        same_process = manifest.get("pid") == os.getpid()
        if status == "running":
            manifest.setdefault("started", _iso(now))
            if not (since and same_process):  # a new running segment starts now
                manifest["running_since"] = _iso(now)
            manifest.update(finished=None, pid=os.getpid(), host=socket.gethostname())
        else:
            if since:
                spent = max((now - _dt.datetime.fromisoformat(since)).total_seconds(), 0.0)
                manifest["elapsed_s"] = round(float(manifest.get("elapsed_s") or 0.0) + spent, 3)
            manifest.update(running_since=None, finished=_iso(now))
        self._write_manifest(manifest)

    def mark_resumed(self) -> None:
        """Record a resume: append a timestamp to ``resumed``, status running, this pid.

        Time a killed process spent after its last status change is not counted.
        """
        manifest = self.manifest
        manifest.setdefault("resumed", []).append(_iso(_now()))
        manifest["running_since"] = None
        self._write_manifest(manifest)
        self.set_status("running")

    def artifact_path(self, name: str) -> Path:
        """Path of artifact ``name`` inside the run folder (parent folders are created).

        Raises:
            DeepscopeValueError: ``name`` is absolute or leaves the run folder.
        """
        rel = Path(name) if isinstance(name, (str, Path)) else None
        if rel is None or not str(name) or rel.is_absolute() or ".." in rel.parts:
            raise param_error(
                "name", "Run.artifact_path", "a relative path inside the run folder", name
            )
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    # ---------------------------------------------------------------- measurements

    @property
    def pending(self) -> int:
        """Number of recorded rows not yet flushed."""
        return sum(len(b["value"]) for b in self._buffer)

    def _default_seed(self, func: str) -> int:
        seeds = self.seeds
        if len(seeds) != 1:
            raise param_error(
                "seed", func, f"given when a run has several seeds ({seeds})", None
            )
        return seeds[0]

    def record(
        self,
        *,
        step: Any,
        lens: Any,
        layer: Any,
        metric: Any,
        value: Any,
        seed: Any = None,
    ) -> int:
        """Buffer measurement rows; scalars and arrays are broadcast against each other.

        Args:
            step: Training step or epoch (integers).
            lens: Lens that measured, e.g. ``"information"``.
            layer: Layer name(s).
            metric: Metric name(s), e.g. ``"i_xt"``.
            value: Measured value(s) (floats; NaN is kept).
            seed: Seed(s); may be left out when the run has exactly one seed.

        Returns:
            Number of rows buffered by this call.

        Raises:
            DeepscopeValueError: shapes that do not broadcast, non-integer steps or seeds,
                non-numeric values.
        """
        func = "Run.record"
        if seed is None:
            seed = self._default_seed(func)
        raw = {"step": step, "lens": lens, "layer": layer, "metric": metric,
               "value": value, "seed": seed}
        arrays = {k: np.asarray(v.detach().cpu() if hasattr(v, "detach") else v)
                  for k, v in raw.items()}
        try:
            shaped = np.broadcast_arrays(*arrays.values())
        except ValueError:
            shapes = {k: a.shape for k, a in arrays.items()}
            raise DeepscopeValueError(
                f"The columns given to {func} do not broadcast to one shape: {shapes}."
            ) from None
        cols = {k: a.reshape(-1) for k, a in zip(arrays, shaped)}
        self._append(cols, func)
        return len(cols["value"])

    def record_frame(self, frame: pd.DataFrame) -> int:
        """Buffer the rows of a tidy DataFrame (columns step, lens, layer, metric, value, seed).

        The ``seed`` column may be left out when the run has exactly one seed.

        Returns:
            Number of rows buffered.
        """
        func = "Run.record_frame"
        if not isinstance(frame, pd.DataFrame):
            raise param_error("frame", func, "a pandas DataFrame", type(frame).__name__,
                              type_error=True)
        need = [c for c in COLUMNS if c != "seed"]
        missing = [c for c in need if c not in frame.columns]
        extra = [c for c in frame.columns if c not in COLUMNS]
        if missing or extra:
            raise param_error(
                "frame", func, f"a DataFrame with columns {list(COLUMNS)}",
                f"columns {list(frame.columns)}",
            )
        cols = {c: frame[c].to_numpy() for c in COLUMNS if c in frame.columns}
        if "seed" not in cols:
            cols["seed"] = np.full(len(frame), self._default_seed(func), dtype=np.int64)
        self._append(cols, func)
        return len(frame)

    def _append(self, cols: dict[str, np.ndarray], func: str) -> None:
        out = {"step": _as_ints(cols["step"], "step", func),
               "seed": _as_ints(cols["seed"], "seed", func)}
        for name in _STR_COLS:
            out[name] = np.asarray(cols[name]).astype(str)
        try:
            out["value"] = cols["value"].astype(np.float64)
        except (TypeError, ValueError):
            raise param_error("value", func, "numbers", cols["value"].tolist()) from None
        if len(out["value"]):
            self._buffer.append(out)

    @property
    def parts_dir(self) -> Path:
        """The folder of the Parquet parts."""
        return self.path / _PARTS

    def _part_files(self) -> list[tuple[int, Path]]:
        if not self.parts_dir.is_dir():
            return []
        found = []
        for path in self.parts_dir.iterdir():
            m = _PART_RE.match(path.name)
            if m:
                found.append((int(m.group(1)), path))
        return sorted(found)

    @property
    def last_part(self) -> int:
        """Number of the last flushed part; -1 when none."""
        parts = self._part_files()
        return parts[-1][0] if parts else -1

    def flush(self) -> int:
        """Write buffered rows as the next part (atomically).

        Returns:
            The new part's number, or -1 when nothing was buffered.
        """
        if not self._buffer:
            return -1
        cols = {c: np.concatenate([b[c] for b in self._buffer]) for c in COLUMNS}
        table = pa.Table.from_pydict(cols, schema=_SCHEMA)
        number = self.last_part + 1
        self.parts_dir.mkdir(exist_ok=True)
        final = self.parts_dir / f"part-{number:05d}.parquet"
        tmp = self.parts_dir / f".{final.name}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        self._buffer.clear()
        return number

    def truncate_parts(self, after: int) -> int:
        """Delete the parts numbered above ``after`` (``-1`` deletes them all).

        Used on resume to drop rows measured after the last checkpoint. Buffered rows are
        left alone.

        Returns:
            Number of parts deleted.
        """
        after = check_int(after, "after", "Run.truncate_parts", low=-1)
        dropped = 0
        for number, path in self._part_files():
            if number > after:
                path.unlink()
                dropped += 1
        return dropped

    def measurements(self) -> pd.DataFrame:
        """Every flushed row, part by part, as a tidy DataFrame.

        Columns: step (int64), lens, layer, metric (str), value (float64), seed (int64).
        Rows still buffered (not flushed) are not included.
        """
        tables = [pq.read_table(path, schema=_SCHEMA) for _, path in self._part_files()]
        return pa.concat_tables(tables or [_SCHEMA.empty_table()]).to_pandas()

    def rows(self) -> int:
        """Number of flushed rows (read from the Parquet footers only)."""
        return _count_rows(path for _, path in self._part_files())


def _count_rows(paths: Iterable[Path]) -> int:
    return sum(pq.read_metadata(path).num_rows for path in paths)


def _merge(into: dict[str, Any], fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


# --------------------------------------------------------------------------- the store


class RunStore:
    """A folder of runs, ``<root>/<study>/<id>/``.

    Args:
        root: The runs folder (created on the first :meth:`create`).
    """

    def __init__(self, root: str | Path = "runs") -> None:
        if not isinstance(root, (str, Path)):
            raise param_error("root", "RunStore", "a str or Path", root, type_error=True)
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunStore(root={str(self.root)!r})"

    def _new_id(self) -> str:
        existing = set(self._ids())
        while True:
            run_id = f"{_now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
            if run_id not in existing:
                return run_id

    def create(
        self,
        study: str,
        config: Mapping[str, Any] | Any,
        seeds: Iterable[int],
        run_id: str | None = None,
    ) -> Run:
        """Create a run folder and its manifest (status ``running``).

        Args:
            study: Study name (the run's parent folder).
            config: The run's config: a mapping or a dataclass instance (stored as JSON).
            seeds: The seeds the run covers.
            run_id: Its id; default a sortable, unique, short one (``20261124-213455-3f9c``,
                UTC time plus 4 random hex digits).

        Raises:
            DeepscopeValueError: a bad name, seeds, or a config that is not a mapping;
                an id already in the store.
        """
        func = "RunStore.create"
        _check_name(study, "study", func)
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            config = dataclasses.asdict(config)
        if not isinstance(config, Mapping):
            raise param_error("config", func, "a mapping or a dataclass instance", config)
        config = json.loads(_dumps(dict(config)))  # normalised exactly as stored
        seeds = _check_seeds(seeds, func)
        if run_id is None:
            run_id = self._new_id()
        else:
            _check_name(run_id, "run_id", func)
            if run_id in set(self._ids()):
                raise DeepscopeValueError(f"A run with id {run_id!r} already exists in "
                                          f"{str(self.root)!r}.")
        path = self.root / study / run_id
        path.mkdir(parents=True)
        (path / _PARTS).mkdir()
        (path / "figures").mkdir()
        now = _iso(_now())
        manifest = {
            "id": run_id, "study": study, "config": config, "seeds": seeds,
            "status": "running", "created": now, "started": now, "running_since": now,
            "finished": None, "elapsed_s": None, "versions": _versions(),
            "host": socket.gethostname(), "platform": platform.platform(),
            "pid": os.getpid(), "device": None, "error": None,
        }
        _write_atomic(path / _MANIFEST, _dumps(manifest, indent=2).encode())
        return Run(path)

    def _run_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent for p in self.root.glob(f"*/*/{_MANIFEST}"))

    def _ids(self) -> list[str]:
        return [p.name for p in self._run_dirs()]

    def open(self, run_id: str) -> Run:
        """Open a run by id (a unique prefix is enough) or by its folder's path.

        Raises:
            DeepscopeValueError: no run or several runs match; the message lists close ids.
        """
        if not isinstance(run_id, (str, Path)) or not str(run_id):
            raise param_error("run_id", "RunStore.open", "a run id", run_id)
        if isinstance(run_id, Path) or os.sep in run_id or "/" in run_id:
            return Run(run_id)
        dirs = self._run_dirs()
        exact = [p for p in dirs if p.name == run_id]
        found = exact or [p for p in dirs if p.name.startswith(run_id)]
        if len(found) == 1:
            return Run(found[0])
        ids = [p.name for p in dirs]
        if found:
            shown = ", ".join(sorted(p.name for p in found)[:10])
            raise DeepscopeValueError(
                f"Run id {run_id!r} is ambiguous in {str(self.root)!r}: it matches {shown}."
            )
        close = difflib.get_close_matches(run_id, ids, n=5, cutoff=0.5)
        newest = sorted(ids, reverse=True)[:5]
        if not ids:
            hint = "The store has no runs."
        elif close:
            hint = "Close ids: " + ", ".join(close) + "."
        else:
            hint = "Newest ids: " + ", ".join(newest) + "."
        raise DeepscopeValueError(f"No run {run_id!r} in {str(self.root)!r}. {hint}")

    def _manifests(self) -> list[dict[str, Any]]:
        out = []
        for path in self._run_dirs():
            try:
                manifest = json.loads((path / _MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                warnings.warn(f"Skipping run folder {str(path)!r}: unreadable manifest "
                              f"({exc}).", stacklevel=3)
                continue
            manifest["_path"] = path
            out.append(manifest)
        return out

    def list(self) -> pd.DataFrame:
        """One row per run, newest first.

        Columns: id, study, status (a 'running' run whose process is gone shows
        'interrupted'), created, seeds (how many), rows (flushed), elapsed_s.
        """
        rows = []
        for manifest in self._manifests():
            parts = (manifest["_path"] / _PARTS).glob("part-*.parquet")
            elapsed = manifest.get("elapsed_s")
            rows.append({
                "id": manifest.get("id"), "study": manifest.get("study"),
                "status": _effective_status(manifest), "created": manifest.get("created"),
                "seeds": len(manifest.get("seeds") or []), "rows": _count_rows(parts),
                "elapsed_s": math.nan if elapsed is None else float(elapsed),
            })
        columns = ["id", "study", "status", "created", "seeds", "rows", "elapsed_s"]
        frame = pd.DataFrame(rows, columns=columns)
        frame = frame.astype({"seeds": "int64", "rows": "int64", "elapsed_s": "float64"})
        return frame.sort_values(["created", "id"], ascending=False, ignore_index=True)

    def _runs_frame(self) -> pd.DataFrame:
        rows = [{
            "run_id": m.get("id"), "study": m.get("study"), "status": _effective_status(m),
            "created": m.get("created"), "started": m.get("started"),
            "finished": m.get("finished"), "elapsed_s": m.get("elapsed_s"),
            "seeds": _dumps(m.get("seeds", [])), "device": m.get("device"),
            "config": _dumps(m.get("config", {}), sort_keys=True), "path": str(m["_path"]),
        } for m in self._manifests()]
        return pd.DataFrame(rows, columns=[c for c, _ in _RUN_COLUMNS], dtype=object)

    def query(self, sql: str) -> pd.DataFrame:
        """Run DuckDB SQL over every run of the store.

        Views:
            ``measurements``: run_id, study, step, lens, layer, metric, value, seed; every
            flushed row of every run (one ``read_parquet`` glob over
            ``<root>/*/*/parts/*.parquet``, the id and study taken from the path).
            ``runs``: run_id, study, status, created, started, finished, elapsed_s,
            seeds and config (JSON text; use ``json_extract``), device, path.

        Both views exist (empty) in an empty store.

        Raises:
            DeepscopeError: the SQL fails (the message is DuckDB's).
        """
        if not isinstance(sql, str):
            raise param_error("sql", "RunStore.query", "a str", sql, type_error=True)
        import duckdb

        con = duckdb.connect(":memory:")
        try:
            con.register("_deepscope_runs", self._runs_frame())
            casts = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in _RUN_COLUMNS)
            con.execute(f"CREATE VIEW runs AS SELECT {casts} FROM _deepscope_runs")
            con.execute(self._measurements_view())
            return con.execute(sql).df()
        except duckdb.Error as exc:
            raise DeepscopeError(f"Query failed: {exc}") from None
        finally:
            con.close()

    def _measurements_view(self) -> str:
        if not (self.root.is_dir() and any(self.root.glob(f"*/*/{_PARTS}/*.parquet"))):
            return ("CREATE VIEW measurements AS SELECT NULL::VARCHAR AS run_id, "
                    "NULL::VARCHAR AS study, NULL::BIGINT AS step, NULL::VARCHAR AS lens, "
                    "NULL::VARCHAR AS layer, NULL::VARCHAR AS metric, NULL::DOUBLE AS value, "
                    "NULL::BIGINT AS seed WHERE false")
        root = self.root.resolve().as_posix().replace("'", "''")
        pattern = r"([^/\\]+)[/\\]([^/\\]+)[/\\]parts[/\\][^/\\]+$"
        return (
            "CREATE VIEW measurements AS SELECT "
            f"regexp_extract(filename, '{pattern}', 2) AS run_id, "
            f"regexp_extract(filename, '{pattern}', 1) AS study, "
            "step, lens, layer, metric, value, seed "
            f"FROM read_parquet('{root}/*/*/{_PARTS}/*.parquet', filename = true)"
        )
