"""Information lens: how much each layer keeps of the input and of the label (Shwartz-Ziv & Tishby 2017).

This package's namespace is the family's public API; its modules are named by role.
"""

from __future__ import annotations

from deepscope.lenses.information.measures import (
    BinnedInformation,
    InformationPlane,
    entropy,
    information_plane,
    information_plane_stacked,
    mutual_information,
    mutual_information_bounds,
)

__all__ = [
    "BinnedInformation",
    "InformationPlane",
    "entropy",
    "information_plane",
    "information_plane_stacked",
    "mutual_information",
    "mutual_information_bounds",
]
