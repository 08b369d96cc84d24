"""``ds.inspect``: the checkup of a user's own model (safe loading, every lens isolated).

Imported lazily so that ``deepscope inspect --help`` answers at once.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["CHECKUPS", "DEFAULT_LENSES", "budgets", "inspect", "load_data", "load_model",
           "load_state"]

_WHERE = {"CHECKUPS": "checkups", "DEFAULT_LENSES": "checkups", "budgets": "checkups",
          "inspect": "checkup", "load_data": "loading", "load_model": "loading",
          "load_state": "loading"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"deepscope.inspection.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'deepscope.inspection' has no attribute {name!r}")
