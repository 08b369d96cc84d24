"""Information lens: how much each layer keeps of the input and of the label (Shwartz-Ziv & Tishby 2017).

This package's namespace is the family's public API; its modules are named by role.
"""

from __future__ import annotations

from deepscope.lenses.information.measures import (
    BinnedInformation,
    InformationPlane,
    StackedInformationPlane,
    entropy,
    information_plane,
    information_plane_stacked,
    mutual_information,
    mutual_information_bounds,
)
from deepscope.lenses.registry import LensCase, register_lens

__all__ = [
    "BinnedInformation",
    "InformationPlane",
    "StackedInformationPlane",
    "entropy",
    "information_plane",
    "information_plane_stacked",
    "mutual_information",
    "mutual_information_bounds",
]


def _acts():
    import torch

    g = torch.Generator().manual_seed(0)
    return {"fc1": torch.rand(40, 3, generator=g) * 2 - 1,
            "fc2": torch.rand(40, 2, generator=g) * 2 - 1}, torch.arange(40) % 2


def _plane_case():
    acts, y = _acts()
    return LensCase((acts, y), {"bins": 8})


def _stacked_case():
    acts, y = _acts()
    return LensCase((acts["fc1"][None].repeat(2, 1, 1), y), {"bins": 8, "layer": "fc1"})


def _mi_case():
    acts, y = _acts()
    return LensCase((acts["fc1"], y), {"method": "binning", "bins": 8})


def _bounds_case():
    acts, y = _acts()
    return LensCase((acts["fc1"], y), {"noise_variance": 0.1})


def _entropy_case():
    return LensCase(([0, 0, 1, 2],))


register_lens("information.information_plane", information_plane, needs=("activations",),
              case=_plane_case, bad=[({"bins": 0}, "bins"), ({"method": "x"}, "method"),
                                     ({"layers": ["nope"]}, "layers")])
register_lens("information.information_plane_stacked", information_plane_stacked,
              needs=("activations",), case=_stacked_case,
              bad=[({"bins": 0}, "bins"), ({"method": "x"}, "method")])
# Scalar estimators: they return numbers (bits), not tables.
register_lens("information.mutual_information", mutual_information, needs=("activations",),
              case=_mi_case, bad=[({"k": 0, "method": "ksg"}, "k"), ({"method": "x"}, "method")],
              tidy=False)
register_lens("information.mutual_information_bounds", mutual_information_bounds,
              needs=("activations",), case=_bounds_case,
              bad=[({"noise_variance": -1.0}, "noise_variance")], tidy=False)
register_lens("information.entropy", entropy, needs=("activations",), case=_entropy_case,
              tidy=False)
