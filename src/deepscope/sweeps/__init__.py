"""Sweeps: a study over a grid of settings x seeds, on local processes or a Ray cluster.

``ds.sweep("info-plane", grid={"activation": ["tanh", "relu"]}, seeds=10)`` plans one run
per cell and seed (or per cell and seed group, for a study that trains its seeds stacked),
runs them on an executor, retries failures a bounded number of times and writes the sweep's
manifest and aggregated report to ``<root>/sweeps/<id>/``. Run ids are content hashes, so a
rerun or ``resume`` skips finished runs and continues interrupted ones from their checkpoints.

Executors: :class:`LocalExecutor` (a process pool, ``workers x threads <= cores``) and
:class:`RayExecutor` (one Ray task per run; ``pip install 'deepscope[ray]'``), both behind
the small :class:`Executor` protocol.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {"sweep": "driver", "Executor": "executors", "LocalExecutor": "executors",
          "RayExecutor": "executors", "SWEEP_STATUSES": "folder", "Sweep": "folder",
          "list_sweeps": "folder", "open_sweep": "folder", "Task": "plan", "run_id": "plan"}

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "SWEEP_STATUSES", "Sweep", "Task",
           "list_sweeps", "open_sweep", "run_id", "sweep"]


def __getattr__(name: str) -> Any:  # loaded on first use: the CLI imports this package
    if name in _WHERE:
        value = getattr(importlib.import_module(f"deepscope.sweeps.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'deepscope.sweeps' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from deepscope.sweeps.driver import sweep
    from deepscope.sweeps.executors import Executor, LocalExecutor, RayExecutor
    from deepscope.sweeps.folder import SWEEP_STATUSES, Sweep, list_sweeps, open_sweep
    from deepscope.sweeps.plan import Task, run_id
