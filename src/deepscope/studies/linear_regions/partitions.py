"""The 2-D partitions of a ``linear-regions`` run as NPZ (plain arrays; never a pickle)."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from deepscope.errors import DeepscopeValueError

__all__ = ["load_partitions", "save_partitions"]


def _ragged(arrays: list[np.ndarray], tail: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A list of ``(k_i, *tail)`` arrays as one concatenated array and offsets."""
    offsets = np.cumsum([0, *[len(a) for a in arrays]]).astype(np.int64)
    flat = (np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1, *tail) for a in arrays])
            if arrays else np.zeros((0, *tail)))
    return flat, offsets


def _split(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def save_partitions(fh: BinaryIO, task: str, points: np.ndarray, labels: np.ndarray,
                    partitions: dict[int, Any]) -> None:
    """Write ``{step: PlaneRegions}`` with the data points into ``fh`` as an NPZ archive."""
    arrays: dict[str, np.ndarray] = {
        "task": np.array(str(task)), "points": np.asarray(points, dtype=np.float64),
        "labels": np.asarray(labels), "steps": np.array(sorted(partitions), dtype=np.int64),
    }
    for step in sorted(partitions):
        res = partitions[step]
        polys, poly_off = _ragged(res.polygons, (2,))
        bound, bound_off = _ragged(list(res.boundary or []), (2, 2))
        arrays.update({
            f"{step}/polygons": polys, f"{step}/polygon_offsets": poly_off,
            f"{step}/boundary": bound, f"{step}/boundary_offsets": bound_off,
            f"{step}/codes": np.asarray(res.codes, dtype=bool),
            f"{step}/areas": np.asarray(res.areas, dtype=np.float64),
            f"{step}/affine": np.asarray(res.affine, dtype=np.float64),
            f"{step}/bounds": np.asarray(res.bounds, dtype=np.float64),
            f"{step}/rtol": np.array(float(res.rtol)),
        })
    np.savez(fh, **arrays)


def load_partitions(path: Path) -> dict[str, Any] | None:
    """Read an NPZ written by :func:`save_partitions` (``np.load(allow_pickle=False)``).

    Returns:
        ``{"task", "points", "labels", "partitions": {step: PlaneRegions}}``.

    Raises:
        DeepscopeValueError: the file holds pickled objects or is damaged (one line).
    """
    from deepscope.lenses.regions import PlaneRegions

    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
        steps = [int(s) for s in data["steps"]]
        parts = {}
        for s in steps:
            boundary = _split(data[f"{s}/boundary"], data[f"{s}/boundary_offsets"])
            parts[s] = PlaneRegions(
                count=len(data[f"{s}/areas"]),
                polygons=_split(data[f"{s}/polygons"], data[f"{s}/polygon_offsets"]),
                codes=data[f"{s}/codes"], areas=data[f"{s}/areas"],
                affine=data[f"{s}/affine"], boundary=boundary,
                bounds=tuple(float(v) for v in data[f"{s}/bounds"]),
                rtol=float(data[f"{s}/rtol"]))
    except (ValueError, KeyError, OSError, zipfile.BadZipFile, EOFError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DeepscopeValueError(
            f"Refusing to read partitions {str(path)!r}: not a partition archive of plain "
            f"arrays ({first[:160]})."
        ) from None
    return {"task": str(data["task"]), "points": data["points"], "labels": data["labels"],
            "partitions": parts}


def first_partitions(folder: Path) -> dict[str, Any] | None:
    """The first NPZ partition archive in ``folder``; pickles of older runs are not read."""
    old = sorted(folder.glob("*.pkl"))
    if old:
        warnings.warn(f"Not reading {str(old[0])!r}: partitions stored as pickles (store "
                      "format 1, an older deepscope) are never unpickled; re-run the study "
                      "to draw them.", stacklevel=3)
    files = sorted(folder.glob("*.npz"))
    return load_partitions(files[0]) if files else None
