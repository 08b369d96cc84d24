"""``ds.sweep``: plan a grid x seeds, run it on an executor, retry, record, report."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from deepscope.errors import DeepscopeValueError, check_int, param_error
from deepscope.sweeps.executors import make_executor
from deepscope.sweeps.folder import Sweep, host_fields, now_iso, open_sweep, sweeps_dir
from deepscope.sweeps.plan import make_plan, parse_grid, resolve_seeds, store_format

__all__ = ["sweep"]

#: Seconds between two manifest writes while outcomes arrive (the last one is always written).
_WRITE_EVERY = 2.0
#: Seconds to wait for runs another (dying) process still holds before running the others.
_BUSY_WAIT = 10.0


def _grid(grid: Any) -> dict[str, list]:
    if grid is None:
        return {}
    if isinstance(grid, Mapping):
        out = {}
        for key, values in grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                values = [values]
            values = list(values)
            if not values:
                raise DeepscopeValueError(f"The grid axis {key!r} has no values.")
            out[str(key).replace("-", "_")] = values
        return out
    if isinstance(grid, (list, tuple)):
        return parse_grid(grid)
    raise param_error("grid", "sweep", "a mapping of field -> values or a list of "
                      "'key=v1,v2' strings", grid)


def _fixed(fixed: Any) -> dict[str, Any]:
    if fixed is None:
        return {}
    if isinstance(fixed, Mapping):
        return {str(k).replace("-", "_"): v for k, v in fixed.items()}
    if isinstance(fixed, (list, tuple)):
        out = {}
        for item in fixed:
            if not isinstance(item, str) or "=" not in item:
                raise DeepscopeValueError(
                    f"Every --set must look like key=value (e.g. --set lr=0.001). Got {item!r}.")
            key, text = item.split("=", 1)
            out[key.strip().replace("-", "_")] = text
        return out
    raise param_error("fixed", "sweep", "a mapping or a list of 'key=value' strings", fixed)


def _sweep_id(spec: Mapping[str, Any]) -> str:
    import deepscope

    body = {**spec, "deepscope": deepscope.__version__, "store_format": store_format()}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return "sw-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def sweep(
    study: str | None = None,
    grid: Mapping[str, Any] | Iterable[str] | None = None,
    seeds: int | Iterable[int] = 1,
    *,
    fixed: Mapping[str, Any] | Iterable[str] | None = None,
    executor: Any = "local",
    workers: int | None = None,
    threads: int | None = None,
    address: str | None = None,
    retries: int = 2,
    seed_group: int | None = None,
    root: str | os.PathLike = "runs",
    device: str | None = None,
    resume: str | None = None,
    report: bool = True,
    progress: Callable[[str, int], Any] | None = None,
) -> Sweep:
    """Run study ``study`` on every cell of ``grid`` for every seed; return the :class:`Sweep`.

    Each cell and seed (or seed group, for a study that trains its seeds stacked) is one
    ordinary run whose id hashes the study, the full config, the seeds, the deepscope version
    and the store format. Running the same sweep again, or resuming it, skips every finished
    run and continues interrupted ones from their last checkpoint.

    Args:
        study: A registered study (``deepscope studies``); not needed with ``resume``.
        grid: Axes of the grid: ``{"activation": ["tanh", "relu"]}`` or
            ``["activation=tanh,relu"]`` (values as on the command line).
        seeds: Number of seeds (``0 .. seeds-1``) or the seeds themselves.
        fixed: Config settings shared by every cell (``{"epochs": 100}`` or ``["epochs=100"]``).
        executor: ``"local"``, ``"ray"`` or an :class:`~deepscope.sweeps.Executor`.
        workers: Local processes (default ``cores // threads``); for ``ray`` without an
            address, the CPUs of the local Ray instance.
        threads: Torch CPU threads per run (default ``cores // workers`` locally, 1 on Ray);
            set as the study's ``threads`` field, which is not part of a run's id.
        address: Ray cluster address (``"auto"``, ``"ray://head:10001"``).
        retries: Times a failed or lost run is tried again (from its checkpoint).
        seed_group: Seeds per run; default all of a cell's seeds when the study stacks
            seeds (its own batching is kept), else 1.
        root: The runs folder (on Ray: a path every node sees).
        device: Where each run computes (default CPU).
        resume: Id of a sweep to continue (its stored spec is used).
        report: Build the aggregated ``report.html`` at the end.
        progress: ``progress(description, total)`` context manager yielding a task with
            ``advance(n)`` (the CLI passes a Rich bar); default silent.

    Returns:
        The :class:`Sweep` (``.runs()``, ``.measurements()``, ``.query(sql)``, ``.report()``).

    Raises:
        DeepscopeValueError: an unknown study or field, a bad value (checked for every cell
            before anything runs), a sweep to resume that does not exist or was planned by
            another deepscope version.

    Example:
        >>> sw = ds.sweep("info-plane", grid={"activation": ["tanh", "relu"]}, seeds=3,
        ...               fixed={"epochs": 50})  # doctest: +SKIP
        >>> sw.query("SELECT activation, avg(value) FROM measurements GROUP BY 1")  # doctest: +SKIP
    """
    from deepscope.studies import get

    func = "sweep"
    retries = check_int(retries, "retries", func, low=0, high=100)
    root = Path(root).resolve()
    if resume is not None:
        old = open_sweep(resume, root)
        m = old.manifest
        _check_version(m)
        study, grid, fixed = m["study"], m["grid"], m["fixed"]
        seeds, seed_group = m["seeds"], m["seed_group"]
    elif study is None:
        raise param_error("study", func, "a study name (or give resume)", study)
    spec_study = get(study)
    grid, fixed = _grid(grid), _fixed(fixed)
    seed_list = resolve_seeds(seeds, func)
    if seed_group is None:
        seed_group = len(seed_list) if spec_study.stacks_seeds else 1
    seed_group = check_int(seed_group, "seed_group", func, low=1)
    ex = make_executor(executor, workers=workers, threads=threads, address=address)
    the_cells, tasks = make_plan(spec_study, grid, seed_list, base=fixed,
                                 seed_group=seed_group, threads=getattr(ex, "threads", 1),
                                 root=str(root), device=device)
    typed_grid = {k: _unique([c[k] for c in the_cells]) for k in grid}
    typed_fixed = {k: v for k, v in tasks[0].config.items() if k in fixed}
    spec = {"study": study, "grid": typed_grid, "fixed": typed_fixed, "seeds": seed_list,
            "seed_group": seed_group}
    sweep_id = _sweep_id(spec)
    if resume is not None and sweep_id != old.id:
        raise DeepscopeValueError(f"Sweep {old.id} cannot be re-planned identically "
                                  f"(got {sweep_id}); start a new sweep.")
    path = sweeps_dir(root) / sweep_id
    sw = _start(path, sweep_id, spec, the_cells, tasks, ex)
    _drive(sw, tasks, ex, retries, progress)
    if report:
        sw.report()
    return sw


def _unique(values: list) -> list:
    out: list = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _check_version(manifest: Mapping[str, Any]) -> None:
    import deepscope

    planned = manifest.get("versions", {}).get("deepscope")
    fmt = manifest.get("versions", {}).get("store_format")
    if planned != deepscope.__version__ or fmt != store_format():
        raise DeepscopeValueError(
            f"Sweep {manifest['id']} was planned with deepscope {planned} (store format {fmt}); "
            f"this is deepscope {deepscope.__version__} (store format {store_format()}). Its "
            "runs would not be reused: start a new sweep with the same grid instead.")


def _start(path: Path, sweep_id: str, spec: dict, the_cells: list, tasks: list,
           ex: Any) -> Sweep:
    """Create the sweep folder, or take over an existing one with the same spec."""
    import deepscope

    old_runs: dict[str, dict] = {}
    if (path / "sweep.json").is_file():
        existing = Sweep(path)
        if existing.status == "running":
            m = existing.manifest
            raise DeepscopeValueError(f"Sweep {sweep_id} is running (pid {m.get('pid')} on "
                                      f"{m.get('host')}); wait for it or stop it first.")
        old = existing.manifest
        old_runs = {r["run_id"]: r for r in old.get("runs", [])}
        created = old.get("created")
        resumed = [*old.get("resumed", []), now_iso()]
    else:
        path.mkdir(parents=True, exist_ok=True)
        created, resumed = now_iso(), []
    runs = []
    for task in tasks:
        prev = old_runs.get(task.run_id, {})
        runs.append({"run_id": task.run_id, "cell": task.cell, "seeds": list(task.seeds),
                     "status": prev.get("status", "pending"),
                     "attempts": prev.get("attempts", 0), "error": prev.get("error"),
                     "elapsed_s": prev.get("elapsed_s")})
    manifest = {
        "id": sweep_id, "kind": "sweep", **spec, "cells": the_cells, "runs": runs,
        "executor": ex.describe(), "status": "running", "created": created,
        "started": now_iso(), "finished": None, "resumed": resumed,
        "elapsed_s": None, "counts": {}, "error": None, **host_fields(),
        "versions": {"deepscope": deepscope.__version__, "store_format": store_format()},
    }
    from deepscope.sweeps.folder import write_json

    write_json(path / "sweep.json", manifest)
    return Sweep(path)


def _counts(runs: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in runs:
        out[r["status"]] = out.get(r["status"], 0) + 1
    return out


def _drive(sw: Sweep, tasks: list, ex: Any, retries: int,
           progress: Callable[[str, int], Any] | None) -> None:
    """Send every unfinished run to the executor; retry failures; keep the manifest current."""
    import contextlib

    from deepscope.sweeps.worker import run_state

    manifest = sw.manifest
    entries = {r["run_id"]: r for r in manifest["runs"]}
    pending = []
    deadline = time.monotonic() + _BUSY_WAIT
    for task in tasks:
        state = run_state(task.root, task.study, task.run_id)
        while state == "running" and time.monotonic() < deadline:  # e.g. a killed driver's
            time.sleep(0.1)                                           # worker still exiting
            state = run_state(task.root, task.study, task.run_id)
        if state == "done":
            entries[task.run_id]["status"] = "done"
        else:
            pending.append(task)
    t0 = time.perf_counter()
    last_write = 0.0
    cm = (progress(f"sweep {sw.id}: {sw.study}", len(tasks)) if progress
          else contextlib.nullcontext(None))
    try:
        with cm as bar:
            if bar is not None:
                bar.advance(len(tasks) - len(pending))
            for round_ in range(retries + 1):
                again = []
                for task, outcome in ex.run(pending):
                    entry = entries[task.run_id]
                    status = outcome["status"]
                    if status != "skipped":
                        entry["attempts"] = entry.get("attempts", 0) + 1
                    entry["status"] = "done" if status == "skipped" else status
                    entry["error"] = outcome.get("error")
                    if outcome.get("elapsed_s") is not None:
                        entry["elapsed_s"] = outcome["elapsed_s"]
                    if status in ("failed", "lost") and round_ < retries:
                        again.append(task)
                    elif bar is not None:
                        bar.advance(1)
                    if time.perf_counter() - last_write > _WRITE_EVERY or status != "done":
                        manifest["counts"] = _counts(manifest["runs"])
                        sw.write_manifest(manifest)
                        last_write = time.perf_counter()
                if not again:
                    break
                pending = again
    except BaseException as exc:  # KeyboardInterrupt included: record, then let it go
        manifest.update(status="interrupted", finished=now_iso(),
                        error=f"{type(exc).__name__}: {exc}",
                        elapsed_s=round(time.perf_counter() - t0, 3),
                        counts=_counts(manifest["runs"]))
        sw.write_manifest(manifest)
        raise
    complete = all(r["status"] == "done" for r in manifest["runs"])
    manifest.update(status="done" if complete else "incomplete", finished=now_iso(),
                    elapsed_s=round(time.perf_counter() - t0, 3),
                    counts=_counts(manifest["runs"]))
    sw.write_manifest(manifest)
