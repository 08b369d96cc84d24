"""Weight-spectra lens: eigenvalue spectra of weight matrices, heavy-tailed and Marchenko-Pastur fits (Martin & Mahoney 2021).

This package's namespace is the family's public API; its modules are named by role.
"""

from __future__ import annotations

from deepscope.lenses.spectra.analysis import (
    MarchenkoPasturFit,
    PowerLawFit,
    WeightMatrix,
    WeightSpectra,
    analyze_weights,
    esd,
    fit_marchenko_pastur,
    fit_power_law,
    weight_matrices,
)
from deepscope.lenses.registry import LensCase, register_lens, tiny_net

__all__ = [
    "MarchenkoPasturFit",
    "PowerLawFit",
    "WeightMatrix",
    "WeightSpectra",
    "analyze_weights",
    "esd",
    "fit_marchenko_pastur",
    "fit_power_law",
    "weight_matrices",
]


def _mlp():
    return tiny_net(12, 20, 4)


def _eigenvalues():
    import torch

    w = torch.randn(60, 20, generator=torch.Generator().manual_seed(0))
    return esd(w)


def _analyze_case():
    net = _mlp()
    return LensCase((net,), {"seed": 3}, model=net)


register_lens("spectra.analyze_weights", analyze_weights, needs=("model", "weights"),
              case=_analyze_case, seeded=True,
              bad=[({"conv": "x"}, "conv"), ({"seed": -1}, "seed"), ({"mp_fit": 1}, "mp_fit")])
register_lens("spectra.fit_power_law", fit_power_law, needs=("weights",),
              case=lambda: LensCase((_eigenvalues(),)), bad=[({"xmin": -1.0}, "xmin")])
register_lens("spectra.fit_marchenko_pastur", fit_marchenko_pastur, needs=("weights",),
              case=lambda: LensCase((_eigenvalues(),), {"q": 3.0}),
              bad=[({"q": 0.5}, "q")])
# The eigenvalues themselves: a tensor, not a table.
register_lens("spectra.esd", esd, needs=("weights",),
              case=lambda: LensCase((_mlp()[0].weight,)), tidy=False,
              bad=[({"dtype": "float16"}, "dtype")])
