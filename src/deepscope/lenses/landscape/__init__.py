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
from deepscope.lenses.registry import LensCase, register_lens, tiny_data, tiny_net

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


def _net(seed=0):
    return tiny_net(3, 4, 2, seed=seed, norm=True)


def _data():
    return tiny_data(12, 3)


def _line_case():
    import torch.nn.functional as F

    net = _net()
    return LensCase((net, F.cross_entropy, _data(), random_direction(net, 0)), {"steps": 5},
                    model=net)


def _plane_case():
    import torch.nn.functional as F

    net = _net()
    return LensCase((net, F.cross_entropy, _data(), random_direction(net, 0),
                     random_direction(net, 1)), {"steps": 3}, model=net)


def _interpolate_case():
    import torch.nn.functional as F

    net = _net()
    return LensCase((net, _net(1), F.cross_entropy, _data()), {"steps": 5}, model=net)


def _sharpness_case():
    import torch.nn.functional as F

    net = _net()
    return LensCase((net, F.cross_entropy, _data()), {"steps": 3, "seed": 1}, model=net)


_NEEDS = ("model", "data", "loss")
register_lens("landscape.loss_line", loss_line, needs=_NEEDS, case=_line_case,
              bad=[({"steps": 4}, "steps"), ({"span": 0.0}, "span")])
register_lens("landscape.loss_plane", loss_plane, needs=_NEEDS, case=_plane_case,
              bad=[({"steps": 2}, "steps")])
register_lens("landscape.interpolate", interpolate, needs=_NEEDS, case=_interpolate_case,
              bad=[({"steps": 1}, "steps")])
register_lens("landscape.sharpness", sharpness, needs=_NEEDS, case=_sharpness_case,
              seeded=True, bad=[({"epsilon": -1.0}, "epsilon"), ({"box": "ball"}, "box"),
                                ({"seed": -1}, "seed")])
