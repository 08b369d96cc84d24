"""Loss-landscape lens: the loss along lines and planes in parameter space, interpolation between minima, sharpness.

This package's namespace is the family's public API; its modules are named by role.
"""

from __future__ import annotations

from deepscope.lenses.landscape.surface import (
    Interpolation,
    LossLine,
    LossPlane,
    Sharpness,
    align_neurons,
    interpolate,
    loss_line,
    loss_plane,
    random_direction,
    sharpness,
)

__all__ = [
    "Interpolation",
    "LossLine",
    "LossPlane",
    "Sharpness",
    "align_neurons",
    "interpolate",
    "loss_line",
    "loss_plane",
    "random_direction",
    "sharpness",
]
