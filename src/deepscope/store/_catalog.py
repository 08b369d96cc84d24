"""A folder of runs: create, open, list, query (see :mod:`deepscope.store`)."""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import platform
import secrets
import shutil
import socket
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepscope.errors import (
    DeepscopeError,
    DeepscopeValueError,
    param_error,
)
from deepscope.store._io import FORMAT, read_manifest
from deepscope.store._run import (
    Run,
    _MANIFEST,
    _PARTS,
    _PART_RE,
    _RUN_COLUMNS,
    _now,
    _iso,
    _dumps,
    _write_atomic,
    _effective_status,
    _versions,
    _check_name,
    part_rows,
)

if TYPE_CHECKING:
    import pandas as pd

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
        if self.root.exists() and not self.root.is_dir():
            raise DeepscopeValueError(f"The runs folder {str(root)!r} is a file, not a folder.")

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
        from deepscope.seeding import check_seeds  # imports torch: only when creating a run

        seeds = list(check_seeds(seeds, func))
        if run_id is None:
            run_id = self._new_id()
        else:
            _check_name(run_id, "run_id", func)
            if run_id in set(self._ids()):
                raise DeepscopeValueError(f"A run with id {run_id!r} already exists in "
                                          f"{str(self.root)!r}.")
        path = self.root / study / run_id
        # Built in a hidden folder and renamed into place: a kill leaves no half-made run.
        staging = path.with_name(f".creating-{run_id}-{os.getpid()}")
        try:
            staging.mkdir(parents=True)
            (staging / _PARTS).mkdir()
            (staging / "figures").mkdir()
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise DeepscopeValueError(
                f"Cannot create a run folder under {str(self.root)!r}: {exc.strerror or exc}."
            ) from None
        now = _iso(_now())
        manifest = {
            "format": FORMAT, "id": run_id, "study": study, "config": config, "seeds": seeds,
            "status": "running", "created": now, "started": now, "running_since": now,
            "finished": None, "elapsed_s": None, "versions": _versions(),
            "host": socket.gethostname(), "platform": platform.platform(),
            "pid": os.getpid(), "device": None, "error": None,
        }
        try:
            _write_atomic(staging / _MANIFEST, _dumps(manifest, indent=2).encode())
            os.rename(staging, path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return Run(path)

    def _run_dirs(self) -> list[Path]:
        """Folders ``<root>/<study>/<id>/`` holding a manifest (hidden folders skipped)."""
        if not self.root.is_dir():
            return []
        return sorted(p.parent for p in self.root.glob(f"*/*/{_MANIFEST}")
                      if not (p.parent.name.startswith(".")
                              or p.parent.parent.name.startswith(".")))

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

    def _manifests(self, problems: list[str] | None = None) -> list[dict[str, Any]]:
        """Readable manifests (with ``_path``); damaged ones are named in ``problems``."""
        out = []
        for path in self._run_dirs():
            try:
                manifest = read_manifest(path / _MANIFEST)
            except DeepscopeError as exc:
                if problems is not None:
                    problems.append(f"skipped: {exc}")
                continue
            manifest["_path"] = path
            out.append(manifest)
        return out

    def _leftovers(self) -> list[str]:
        """Folders without a manifest and temporary files left by killed processes."""
        found = []
        if not self.root.is_dir():
            return found
        for study in sorted(self.root.iterdir()):
            if not study.is_dir() or study.name.startswith(".") or study.name == "sweeps":
                continue  # sweeps/<id>/ holds sweep.json (deepscope.sweeps), not runs
            for entry in sorted(study.iterdir()):
                if entry.name.startswith(".creating-"):
                    found.append(f"skipped: unfinished run creation {str(entry)!r} (safe to "
                                 "delete).")
                elif entry.is_dir() and not (entry / _MANIFEST).exists():
                    found.append(f"skipped: folder {str(entry)!r} holds no {_MANIFEST}.")
                elif entry.is_dir():
                    for sub in (entry, entry / _PARTS):
                        found += [f"skipped: temporary file {str(t)!r} left by an interrupted "
                                  "write (safe to delete)." for t in sorted(sub.glob(".*.tmp"))]
        return found

    def scan(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Every run's summary and one line per damaged file, without pandas or torch.

        Returns:
            ``(runs, problems)``: ``runs`` are dicts with id, study, status, created, seeds
            (how many), rows (flushed), elapsed_s, format, newest first; ``problems`` name
            each skipped file (damaged manifest or Parquet part, folder without manifest,
            leftover temporary file), one line each. A run with a damaged part is listed
            with the rows of its readable parts.
        """
        problems: list[str] = []
        rows = []
        for manifest in self._manifests(problems):
            n = 0
            for path in sorted((manifest["_path"] / _PARTS).glob("part-*.parquet")):
                try:
                    n += part_rows(path)
                except DeepscopeError as exc:
                    problems.append(f"skipped: {exc}")
            elapsed = manifest.get("elapsed_s")
            seeds = manifest.get("seeds")
            rows.append({
                "id": manifest["id"], "study": manifest["study"],
                "status": str(_effective_status(manifest)),
                "created": str(manifest.get("created") or ""),
                "seeds": len(seeds) if isinstance(seeds, list) else 0, "rows": n,
                "elapsed_s": (float(elapsed) if isinstance(elapsed, (int, float))
                              else math.nan),
                "format": manifest.get("format", 1),
            })
        rows.sort(key=lambda r: (r["created"], r["id"]), reverse=True)
        return rows, problems + self._leftovers()

    def list(self) -> pd.DataFrame:
        """One row per run, newest first.

        Columns: id, study, status (a 'running' run whose process is gone shows
        'interrupted'), created, seeds (how many), rows (flushed), elapsed_s.
        Damaged files are skipped with a warning naming each (see :meth:`scan`).
        """
        import pandas as pd

        rows, problems = self.scan()
        for line in problems:
            warnings.warn(line, stacklevel=2)
        columns = ["id", "study", "status", "created", "seeds", "rows", "elapsed_s"]
        frame = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)
        return frame.astype({"seeds": "int64", "rows": "int64", "elapsed_s": "float64"})

    def _runs_frame(self, manifests: list[dict[str, Any]]) -> pd.DataFrame:
        import pandas as pd

        rows = [{
            "run_id": m.get("id"), "study": m.get("study"), "status": _effective_status(m),
            "created": m.get("created"), "started": m.get("started"),
            "finished": m.get("finished"), "elapsed_s": m.get("elapsed_s"),
            "seeds": _dumps(m.get("seeds", [])), "device": m.get("device"),
            "config": _dumps(m.get("config", {}), sort_keys=True), "path": str(m["_path"]),
        } for m in manifests]
        return pd.DataFrame(rows, columns=[c for c, _ in _RUN_COLUMNS], dtype=object)

    def _good_parts(self, manifests: list[dict[str, Any]], problems: list[str]) -> list[Path]:
        good = []
        for m in manifests:
            for path in sorted((m["_path"] / _PARTS).glob("part-*.parquet")):
                if not _PART_RE.match(path.name):
                    continue
                try:
                    part_rows(path)
                except DeepscopeError as exc:
                    problems.append(f"skipped: {exc}")
                    continue
                good.append(path.resolve())
        return good

    def query(self, sql: str) -> pd.DataFrame:
        """Run one read-only DuckDB SQL statement over every run of the store.

        Views:
            ``measurements``: run_id, study, step, lens, layer, metric, value, seed; every
            flushed row of every run (its readable Parquet parts, the id and study taken
            from the path).
            ``runs``: run_id, study, status, created, started, finished, elapsed_s,
            seeds and config (JSON text; use ``json_extract``), device, path.

        Both views exist (empty) in an empty store. The SQL runs sandboxed: one statement,
        a ``SELECT`` (or ``EXPLAIN``); DuckDB may read files inside the runs folder only
        (``enable_external_access`` off, ``allowed_directories`` the runs folder, the
        configuration locked), never installs or loads extensions and writes nothing.
        Damaged manifests and parts are skipped with a warning naming each.

        Raises:
            DeepscopeError: empty SQL, several statements, a statement that is not a query
                (COPY, ATTACH, CREATE, INSTALL, SET ...), or SQL that fails (DuckDB's
                message, one line).
        """
        func = "RunStore.query"
        if not isinstance(sql, str):
            raise param_error("sql", func, "a str", sql, type_error=True)
        import duckdb

        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise DeepscopeError(f"Query failed: {_one_line(exc)}") from None
        if len(statements) != 1:
            raise param_error("sql", func, f"one SQL statement (got {len(statements)})", sql)
        kind = getattr(statements[0].type, "name", str(statements[0].type)).rsplit(".")[-1]
        if kind not in ("SELECT", "EXPLAIN"):
            raise param_error("sql", func, f"a read-only query (SELECT), not {kind}", sql)
        problems: list[str] = []
        manifests = self._manifests(problems)
        parts = self._good_parts(manifests, problems)
        for line in problems:
            warnings.warn(line, stacklevel=2)
        con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                                 "autoload_known_extensions": False})
        try:
            con.register("_deepscope_runs", self._runs_frame(manifests))
            casts = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in _RUN_COLUMNS)
            con.execute(f"CREATE VIEW runs AS SELECT {casts} FROM _deepscope_runs")
            con.execute(_measurements_view(parts))
            allowed = [self.root.resolve().as_posix().rstrip("/") + "/"]
            con.execute("SET allowed_directories = $1", [allowed])
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            return con.execute(statements[0]).df()
        except duckdb.Error as exc:
            raise DeepscopeError(f"Query failed: {_one_line(exc)}") from None
        finally:
            con.close()


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _measurements_view(parts: list[Path]) -> str:
    if not parts:
        return ("CREATE VIEW measurements AS SELECT NULL::VARCHAR AS run_id, "
                "NULL::VARCHAR AS study, NULL::BIGINT AS step, NULL::VARCHAR AS lens, "
                "NULL::VARCHAR AS layer, NULL::VARCHAR AS metric, NULL::DOUBLE AS value, "
                "NULL::BIGINT AS seed WHERE false")
    files = ", ".join("'" + p.as_posix().replace("'", "''") + "'" for p in parts)
    pattern = r"([^/\\]+)[/\\]([^/\\]+)[/\\]parts[/\\][^/\\]+$"
    return (
        "CREATE VIEW measurements AS SELECT "
        f"regexp_extract(filename, '{pattern}', 2) AS run_id, "
        f"regexp_extract(filename, '{pattern}', 1) AS study, "
        "step, lens, layer, metric, value, seed "
        f"FROM read_parquet([{files}], filename = true)"
    )
