"""Plots of lens results: ``plot_<thing>(result, ax=None, **opts) -> (fig, ax)``.

Plotting is kept apart from measuring: lenses never draw. Every function takes a result
(or its ``.to_frame()`` DataFrame) and an optional matplotlib Axes; without one it makes
a new :class:`matplotlib.figure.Figure` (no pyplot global state) and returns it with the
axes, ready for ``fig.savefig(...)`` or a report.
"""

from __future__ import annotations

from deepscope.plots.curvature import plot_hessian_density, plot_hessian_eigs
from deepscope.plots.energy import plot_ais_weights, plot_ising_observables
from deepscope.plots.generalization import plot_layer_norms, plot_margins
from deepscope.plots.gradients import plot_accuracy_curves, plot_gradient_snr, plot_variance_vs_d
from deepscope.plots.information import plot_information_plane, plot_mi_over_epochs
from deepscope.plots.landscape import plot_loss_contour, plot_loss_line, plot_loss_surface
from deepscope.plots.regions import plot_regions
from deepscope.plots.representations import (
    plot_cka_matrix,
    plot_embedding,
    plot_intrinsic_dimension,
    plot_invariance,
    plot_probe,
)
from deepscope.plots.spectra import plot_alpha_over_epochs, plot_esd
from deepscope.plots.tensors import plot_singular_values

__all__ = [
    "plot_accuracy_curves",
    "plot_ais_weights",
    "plot_alpha_over_epochs",
    "plot_cka_matrix",
    "plot_embedding",
    "plot_esd",
    "plot_gradient_snr",
    "plot_hessian_density",
    "plot_hessian_eigs",
    "plot_information_plane",
    "plot_intrinsic_dimension",
    "plot_invariance",
    "plot_ising_observables",
    "plot_layer_norms",
    "plot_loss_contour",
    "plot_loss_line",
    "plot_loss_surface",
    "plot_margins",
    "plot_mi_over_epochs",
    "plot_probe",
    "plot_regions",
    "plot_singular_values",
    "plot_variance_vs_d",
]
