"""The result contract shared by every lens (DESIGN.md, principle 2).

A lens result is a frozen dataclass recording its ``lens`` name, its parameters and its
seed. ``to_frame()`` gives one row per natural unit (documented per result); ``tidy()``
gives the long ``layer, metric, value`` rows the store takes, derived from ``to_frame()``
by :class:`Tidy`: each result names the numeric columns that become metrics
(``_metrics``), the column that names the layer (``_layer``; ``None`` for a result about
the whole model, whose rows get ``layer = ""``) and the key columns kept beside them
(``_keys``: ``rank``, ``alpha``, ``region``...).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

__all__ = ["Tidy", "tidy_frame"]


def tidy_frame(frame: pd.DataFrame, metrics: tuple[str, ...], *, layer: str | None = "layer",
               keys: tuple[str, ...] = ()) -> pd.DataFrame:
    """Melt ``frame`` into ``layer, *keys, metric, value`` rows (values as float64).

    Example:
        >>> f = pd.DataFrame({"layer": ["a", "b"], "x": [1, 2], "y": [0.5, 0.25]})
        >>> tidy_frame(f, ("x", "y")).values.tolist()
        [['a', 'x', 1.0], ['b', 'x', 2.0], ['a', 'y', 0.5], ['b', 'y', 0.25]]
    """
    base = frame.copy()
    base["layer"] = "" if layer is None else base[layer].astype(str)
    ids = ["layer", *keys]
    cols = [m for m in metrics if m in base.columns]
    long = base[ids + cols].melt(id_vars=ids, value_vars=cols, var_name="metric",
                                 value_name="value")
    long["value"] = long["value"].astype(np.float64)
    return long.reset_index(drop=True)


class Tidy:
    """Mixin: ``tidy()`` from ``to_frame()`` (see the module docstring)."""

    _metrics: ClassVar[tuple[str, ...]] = ()
    _layer: ClassVar[str | None] = "layer"
    _keys: ClassVar[tuple[str, ...]] = ()

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - every result defines it
        raise NotImplementedError

    def tidy(self) -> pd.DataFrame:
        """Long rows ``layer, <keys>, metric, value`` (the class docstring names the keys)."""
        return tidy_frame(self.to_frame(), self._metrics, layer=self._layer, keys=self._keys)
