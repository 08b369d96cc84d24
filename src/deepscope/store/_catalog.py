"""A folder of runs: create, open, list, query (see :mod:`deepscope.store`)."""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import platform
import secrets
import socket
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from deepscope.errors import (
    DeepscopeError,
    DeepscopeValueError,
    param_error,
)

from deepscope.seeding import check_seeds
from deepscope.store._run import (
    Run,
    _MANIFEST,
    _PARTS,
    _RUN_COLUMNS,
    _now,
    _iso,
    _dumps,
    _write_atomic,
    _effective_status,
    _versions,
    _check_name,
    _count_rows,
)

__all__ = ["RunStore"]

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
        seeds = list(check_seeds(seeds, func))
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
