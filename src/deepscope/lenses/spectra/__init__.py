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
