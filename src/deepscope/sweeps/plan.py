"""A sweep's plan: grid cells x seed groups -> run tasks with content-hashed ids.

A run's id is a hash of what determines its numbers: the study, its full config, its seeds,
the deepscope version and the store format. The CPU threads a run uses (``threads``) are an
execution setting and are left out, so a run done by a 1-thread worker is found again by a
2-thread one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from deepscope.errors import DeepscopeValueError, check_int, param_error

__all__ = ["Task", "cells", "make_plan", "parse_grid", "resolve_seeds", "run_id",
           "seed_groups", "store_format"]

_SEED_FIELDS = ("seeds", "first_seed")
_EXEC_FIELDS = ("threads",)


@dataclasses.dataclass(frozen=True)
class Task:
    """One run of a sweep, as sent to an executor (plain data: picklable, JSON-able).

    Attributes:
        run_id: The content-hashed id of the run.
        study: The study's name.
        module: The module that registers the study (imported by the worker).
        root: The runs folder.
        config: The run's full config (JSON-ready; ``threads`` already set).
        cell: Index of the grid cell.
        seeds: The seeds the run covers.
        device: Where to compute.
        threads: Torch CPU threads of the run (the executor's setting).
    """

    run_id: str
    study: str
    module: str
    root: str
    config: dict
    cell: int
    seeds: tuple[int, ...]
    device: str | None = None
    threads: int = 1


def store_format() -> int:
    """The version of the on-disk run format, part of every run id."""
    from deepscope.store import FORMAT

    return int(FORMAT)


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_id(study: str, config: Mapping[str, Any], seeds: Sequence[int]) -> str:
    """Content hash of a run: study, full config (less ``threads``), seeds, versions.

    Example:
        >>> run_id("info-plane", {"lr": 4e-4, "seeds": 1, "first_seed": 0}, [0])  # doctest: +SKIP
        'r-3f9c0a1b2c3d4e5f'
    """
    import deepscope

    body = {"study": study, "config": {k: v for k, v in config.items() if k not in _EXEC_FIELDS},
            "seeds": [int(s) for s in seeds], "deepscope": deepscope.__version__,
            "store_format": store_format()}
    return "r-" + hashlib.sha256(_canonical(body).encode()).hexdigest()[:16]


def parse_grid(items: Iterable[str]) -> dict[str, list[str]]:
    """``["activation=tanh,relu", "lr=1e-3,1e-4"]`` -> ``{"activation": ["tanh", "relu"], ...}``.

    Raises:
        DeepscopeValueError: an item without ``=``, an empty value list or a repeated key.
    """
    grid: dict[str, list[str]] = {}
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise DeepscopeValueError(
                "Every --grid must look like key=v1,v2 (e.g. --grid activation=tanh,relu). "
                f"Got {item!r}."
            )
        key, text = item.split("=", 1)
        key = key.strip().replace("-", "_")
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not values:
            raise DeepscopeValueError(f"The grid axis {key!r} has no values. Got {item!r}.")
        if key in grid:
            raise DeepscopeValueError(f"The grid axis {key!r} is given twice.")
        grid[key] = values
    return grid


def resolve_seeds(seeds: Any, func: str = "sweep") -> list[int]:
    """``10`` -> ``[0..9]``; a list/range of distinct non-negative ints is kept as given."""
    if isinstance(seeds, bool):
        raise param_error("seeds", func, "an int >= 1 or a list of distinct ints >= 0", seeds)
    if isinstance(seeds, int):
        return list(range(check_int(seeds, "seeds", func, low=1, high=100000)))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise param_error("seeds", func, "an int >= 1 or a list of distinct ints >= 0", seeds)
    out = [check_int(s, "seeds", func, low=0) for s in seeds]
    if not out or len(set(out)) != len(out):
        raise param_error("seeds", func, "an int >= 1 or a list of distinct ints >= 0", seeds)
    return out


def seed_groups(seeds: Sequence[int], size: int) -> list[list[int]]:
    """Split seeds into runs of at most ``size`` consecutive integers (a study's seeds are
    ``first_seed .. first_seed + seeds - 1``)."""
    groups: list[list[int]] = []
    for s in seeds:
        if groups and len(groups[-1]) < size and s == groups[-1][-1] + 1:
            groups[-1].append(s)
        else:
            groups.append([s])
    return groups


def cells(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the first axis varying slowest."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def _typed(cls: type, key: str, value: Any) -> Any:
    from deepscope.studies._config import parse_value

    if isinstance(value, str):
        return parse_value(cls, key, value)
    return list(value) if isinstance(value, tuple) else value


def _check_keys(cls: type, keys: Iterable[str], what: str) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    for key in keys:
        if key in _SEED_FIELDS or key in _EXEC_FIELDS:
            raise DeepscopeValueError(
                f"The {what} of sweep may not set {key!r}: seeds are the sweep's 'seeds' "
                "argument and threads follow the executor's workers."
            )
        if key not in fields:
            raise DeepscopeValueError(
                f"{cls.__name__} has no field {key!r}. Fields: {', '.join(sorted(fields))}."
            )


def make_plan(
    study: Any,
    grid: Mapping[str, Sequence[Any]],
    seeds: Sequence[int],
    *,
    base: Mapping[str, Any],
    seed_group: int,
    threads: int,
    root: str,
    device: str | None,
) -> tuple[list[dict[str, Any]], list[Task]]:
    """The grid's cells (typed values) and one task per cell and seed group.

    Every cell's config is built (and so validated) here, before anything runs.

    Raises:
        DeepscopeValueError: an unknown field, a value the field does not accept.
    """
    from deepscope.studies._config import to_dict

    cls = study.config_cls
    _check_keys(cls, grid, "grid")
    _check_keys(cls, base, "fixed settings")
    typed_base = {k: _typed(cls, k, v) for k, v in base.items()}
    typed_grid = {k: [_typed(cls, k, v) for v in values] for k, values in grid.items()}
    for key, values in typed_grid.items():
        if len({_canonical(v) for v in values}) != len(values):
            raise DeepscopeValueError(f"The grid axis {key!r} repeats a value: {values}.")
    has_threads = any(f.name == "threads" for f in dataclasses.fields(cls))
    the_cells = cells(typed_grid)
    tasks = []
    for index, cell in enumerate(the_cells):
        for group in seed_groups(seeds, seed_group):
            values = {**typed_base, **cell, "seeds": len(group), "first_seed": group[0]}
            if has_threads:
                values["threads"] = threads
            values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
            config = to_dict(cls(**values))
            tasks.append(Task(run_id=run_id(study.name, config, group), study=study.name,
                              module=study.run.__module__, root=os.fspath(root),
                              config=config, cell=index, seeds=tuple(group), device=device,
                              threads=threads))
    return the_cells, tasks
