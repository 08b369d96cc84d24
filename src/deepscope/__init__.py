"""deepscope: look inside deep networks.

Lens families live in :mod:`deepscope.lenses`, plots in :mod:`deepscope.plots`, data sets
in :mod:`deepscope.data`, reference nets in :mod:`deepscope.nets`, the training loop in
:mod:`deepscope.train`, studies in :mod:`deepscope.studies`, the run store in
:mod:`deepscope.store` and the HTML report in :mod:`deepscope.report`.

Submodules are imported on first use, so ``import deepscope`` is cheap and the CLI
answers at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from deepscope.errors import DeepscopeError

__version__ = "0.1.0"

_SUBMODULES = ("data", "lenses", "losses", "nets", "plots", "report", "seeding", "store",
               "studies", "train")
_ATTRIBUTES = {"capture": ("deepscope.activations", "capture"),
               "inspect": ("deepscope.inspection", "inspect"),
               "sweep": ("deepscope.sweeps", "sweep")}

__all__ = ["DeepscopeError", "__version__", "capture", "inspect", "sweep", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"deepscope.{name}")
        globals()[name] = module
        return module
    if name in _ATTRIBUTES:
        module_name, attr = _ATTRIBUTES[name]
        value = getattr(importlib.import_module(module_name), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'deepscope' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from deepscope import (data, lenses, losses, nets, plots, report, seeding, store, studies,
                           train)
    from deepscope.activations import capture
    from deepscope.inspection import inspect
    from deepscope.sweeps import sweep
