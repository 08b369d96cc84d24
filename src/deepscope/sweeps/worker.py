"""What an executor runs for one task: a fresh run, a resume, or nothing when it is done.

:func:`execute` never raises for a failing study: it returns an outcome (a plain dict) with
the run's final status and the error, so an executor only has to tell a worker that died
(the outcome never came back) from one that answered.
"""

from __future__ import annotations

import importlib
import os
import time
import traceback
from pathlib import Path
from typing import Any

from deepscope.sweeps.plan import Task

__all__ = ["execute", "run_state", "set_threads"]

_MANIFEST = "manifest.json"


def set_threads(threads: int) -> None:
    """A worker's torch CPU threads (called once when the worker starts)."""
    import torch

    torch.set_num_threads(max(1, int(threads)))


def run_state(root: str | os.PathLike, study: str, run_id: str) -> str:
    """``missing`` or the run's status (a 'running' run whose process died: 'interrupted')."""
    from deepscope.store import Run

    path = Path(root) / study / run_id
    if not (path / _MANIFEST).is_file():
        return "missing"
    try:
        run = Run(path)
        status = run.status
        if status == "running" and _zombie(run.manifest.get("pid")):
            return "interrupted"
        return status
    except (OSError, ValueError):
        return "interrupted"  # an unreadable manifest: start the run over from its checkpoint


def _zombie(pid: Any) -> bool:
    """Linux: process ``pid`` has exited but was not reaped yet (its parent was killed)."""
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, TypeError, ValueError):
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def _outcome(task: Task, status: str, started: float, error: str | None = None) -> dict:
    return {"run_id": task.run_id, "status": status, "error": error,
            "elapsed_s": round(time.perf_counter() - started, 4), "pid": os.getpid()}


def execute(task: Task) -> dict[str, Any]:
    """Run ``task`` into its store and return ``{run_id, status, error, elapsed_s, pid}``.

    ``status`` is ``done`` (ran now), ``skipped`` (already done), ``busy`` (another live
    process is running it) or ``failed`` (with the error's last traceback lines).
    """
    t0 = time.perf_counter()
    importlib.import_module(task.module)  # registers the study (also in a fresh process)
    from deepscope.store import RunLocked
    from deepscope.studies import run_study

    state = run_state(task.root, task.study, task.run_id)
    if state == "done":
        return _outcome(task, "skipped", t0)
    if state == "running":
        return _outcome(task, "busy", t0)
    try:
        if state == "missing":
            run_study(task.study, _config(task), root=task.root, device=task.device,
                      report=False, run_id=task.run_id, threads=task.threads)
        else:
            run_study(task.study, root=task.root, device=task.device, report=False,
                      resume=task.run_id, threads=task.threads)
    except RunLocked:  # another live process writes it (e.g. a killed driver's worker)
        return _outcome(task, "busy", t0)
    except Exception as exc:  # the run's manifest already says 'failed'
        tail = "".join(traceback.format_exception(exc)[-3:]).strip()
        return _outcome(task, "failed", t0, f"{type(exc).__name__}: {exc}\n{tail}")
    return _outcome(task, "done", t0)


def _config(task: Task) -> Any:
    from deepscope.studies import get

    cls = get(task.study).config_cls
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in task.config.items()}
    return cls(**values)
