"""One run on disk: manifest and Parquet parts (see :mod:`deepscope.store`)."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from deepscope.errors import (
    DeepscopeValueError,
    check_choice,
    check_int,
    param_error,
)
from deepscope.store._io import (
    FORMAT,
    MANIFEST as _MANIFEST,
    dumps as _dumps,
    effective_status as _effective_status,
    iso as _iso,
    now as _now,
    read_manifest,
    run_lock,
    write_atomic as _write_atomic,
)

if TYPE_CHECKING:  # numpy, pandas and pyarrow load on first use: listing runs stays fast
    import numpy as np
    import pandas as pd

__all__ = ["COLUMNS", "Run", "STATUSES"]

#: Columns of a run's measurements, in order.
COLUMNS = ("step", "lens", "layer", "metric", "value", "seed")
#: Statuses a run can have.
STATUSES = ("running", "done", "failed", "interrupted")

_PARTS = "parts"
_PART_RE = re.compile(r"^part-(\d{5,})\.parquet$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_STR_COLS = ("lens", "layer", "metric")
_PROTECTED = frozenset({"id", "study", "created", "format"})
#: Columns of the ``runs`` view of :meth:`RunStore.query` and their SQL types.
_RUN_COLUMNS = (("run_id", "VARCHAR"), ("study", "VARCHAR"), ("status", "VARCHAR"),
                ("created", "VARCHAR"), ("started", "VARCHAR"), ("finished", "VARCHAR"),
                ("elapsed_s", "DOUBLE"), ("seeds", "VARCHAR"), ("device", "VARCHAR"),
                ("config", "VARCHAR"), ("path", "VARCHAR"))


# --------------------------------------------------------------------------- helpers


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema([("step", pa.int64()), ("lens", pa.string()), ("layer", pa.string()),
                      ("metric", pa.string()), ("value", pa.float64()), ("seed", pa.int64())])


def _versions() -> dict[str, str]:
    import platform

    import numpy as np
    import pandas as pd
    import torch

    import deepscope  # late: this module may be imported while the package initialises

    return {"deepscope": str(getattr(deepscope, "__version__", "unknown")),
            "torch": torch.__version__, "python": platform.python_version(),
            "numpy": np.__version__, "pandas": pd.__version__}


def _bad_part(path: Path, exc: BaseException) -> DeepscopeValueError:
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    detail = detail.replace(f"'{path}': ", "").replace(str(path), path.name)[:200]
    reason = ("is empty" if path.stat().st_size == 0
              else f"is not a readable Parquet file ({detail.rstrip('.')})")
    return DeepscopeValueError(f"Damaged run folder {str(path.parent.parent)!r}: part "
                               f"{path.name} {reason}.")


def part_rows(path: Path) -> int:
    """Rows of one Parquet part, from its footer.

    Raises:
        DeepscopeValueError: the part is empty or not Parquet (one line naming it).
    """
    import pyarrow.parquet as pq

    try:
        return int(pq.read_metadata(path).num_rows)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise _bad_part(path, exc) from None


def _check_name(value: Any, name: str, func: str) -> str:
    """A run, study or figure name that is safe as a file name."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise param_error(name, func, "a name of letters, digits, '.', '_' or '-' (at most "
                          "128, starting with a letter or digit)", value)
    return value


def _as_ints(values: np.ndarray, name: str, func: str) -> np.ndarray:
    import numpy as np

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
        DeepscopeValueError: ``path`` holds no manifest, a damaged one, or one written in a
            store format this deepscope does not read (one line naming the version).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        manifest = self.manifest
        self.id: str = manifest["id"]
        self.study: str = manifest["study"]
        self._buffer: list[dict[str, np.ndarray]] = []

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, study={self.study!r}, path={str(self.path)!r})"

    # ---------------------------------------------------------------- manifest

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest, read from disk (and checked: see :func:`read_manifest`)."""
        return read_manifest(self.path / _MANIFEST)

    @property
    def format(self) -> int:
        """Store format the run was written in (1: before formats were recorded)."""
        return int(self.manifest.get("format", 1))

    def lock(self):
        """Context manager holding the run's lock file while this process writes the run.

        Raises:
            RunLocked: another live process holds it (see :func:`run_lock`).
        """
        return run_lock(self.path)

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
            DeepscopeValueError: a field that identifies the run (id, study, created,
                format).
        """
        bad = sorted(_PROTECTED & fields.keys())
        if bad:
            raise param_error(
                bad[0], "Run.update_manifest", "a field other than id, study, created, format", bad[0]
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
                started = type(now).fromisoformat(since)
                spent = max((now - started).total_seconds(), 0.0)
                manifest["elapsed_s"] = round(float(manifest.get("elapsed_s") or 0.0) + spent, 3)
            manifest.update(running_since=None, finished=_iso(now))
        self._write_manifest(manifest)

    def mark_resumed(self) -> None:
        """Record a resume: append a timestamp to ``resumed``, status running, this pid.

        Time a killed process spent after its last status change is not counted. A run of
        an older store format is migrated: its manifest is rewritten in the current format
        (``migrated_from`` keeps the old one).
        """
        manifest = self.manifest
        manifest.setdefault("resumed", []).append(_iso(_now()))
        manifest["running_since"] = None
        old = manifest.get("format", 1)
        if old != FORMAT:
            manifest.update(format=FORMAT, migrated_from=old)
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

    def write_artifact(self, name: str, data: bytes | Callable[[BinaryIO], object]) -> Path:
        """Write artifact ``name`` atomically: a crash leaves the old file or the new one.

        Args:
            name: Relative path inside the run folder (see :meth:`artifact_path`).
            data: The bytes, or a function writing into the open binary file
                (e.g. ``lambda fh: torch.save(state, fh)``).

        Returns:
            The artifact's path.
        """
        path = self.artifact_path(name)
        _write_atomic(path, data)
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
        import numpy as np

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
        import numpy as np
        import pandas as pd

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
        import numpy as np

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
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = {c: np.concatenate([b[c] for b in self._buffer]) for c in COLUMNS}
        table = pa.Table.from_pydict(cols, schema=_schema())
        number = self.last_part + 1
        self.parts_dir.mkdir(exist_ok=True)
        final = self.parts_dir / f"part-{number:05d}.parquet"
        _write_atomic(final, lambda fh: pq.write_table(table, fh))
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
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema, tables = _schema(), []
        for _, path in self._part_files():
            try:
                tables.append(pq.read_table(path, schema=schema))
            except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
                raise _bad_part(path, exc) from None
        return pa.concat_tables(tables or [schema.empty_table()]).to_pandas()

    def rows(self) -> int:
        """Number of flushed rows (read from the Parquet footers only)."""
        return _count_rows(path for _, path in self._part_files())


def _count_rows(paths: Iterable[Path]) -> int:
    return sum(part_rows(path) for path in paths)


def _merge(into: dict[str, Any], fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


