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
from deepscope.lenses.registry import LensCase, register_lens

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
    import torch

    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return net


def _data():
    import torch

    g = torch.Generator().manual_seed(5)
    return torch.randn(12, 3, generator=g), torch.randint(0, 2, (12,), generator=g)


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
