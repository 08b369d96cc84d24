"""Gradient lens: where gradient-based learning fails (Shalev-Shwartz, Shamir & Shammah 2017): gradient variance across targets and the gradient signal-to-noise ratio.

This package's namespace is the family's public API; its modules are named by role.
"""

from __future__ import annotations

from deepscope.lenses.gradients.variance import (
    GradientSNR,
    GradientVariance,
    gradient_snr,
    gradient_variance_across_targets,
    parity_gradient_variance,
)
from deepscope.lenses.gradients.snr import GradientSNRAccumulator

__all__ = [
    "GradientSNR",
    "GradientSNRAccumulator",
    "GradientVariance",
    "gradient_snr",
    "gradient_variance_across_targets",
    "parity_gradient_variance",
]
