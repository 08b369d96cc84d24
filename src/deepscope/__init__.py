"""deepscope: look inside deep networks.

Lens families live in :mod:`deepscope.lenses`, plots in :mod:`deepscope.plots`, data sets
in :mod:`deepscope.data`, studies in :mod:`deepscope.studies`.
"""

from __future__ import annotations

from deepscope import data, lenses, nets, plots, studies
from deepscope.capture import capture
from deepscope.errors import DeepscopeError

__version__ = "0.1.0"

__all__ = [
    "DeepscopeError",
    "__version__",
    "capture",
    "data",
    "lenses",
    "nets",
    "plots",
    "studies",
]
