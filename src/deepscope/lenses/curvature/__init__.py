"""Curvature lens: Hessian-vector products, top eigenvalues, trace and spectral density of the loss Hessian.

This package's namespace is the family's public API; its modules are named by role.
"""

from __future__ import annotations

from deepscope.lenses.curvature.hessian import (
    HessianDensity,
    HessianEigs,
    HessianOperator,
    HessianTrace,
    hessian_density,
    hessian_eigs,
    hessian_trace,
    hvp,
)

__all__ = [
    "HessianDensity",
    "HessianEigs",
    "HessianOperator",
    "HessianTrace",
    "hessian_density",
    "hessian_eigs",
    "hessian_trace",
    "hvp",
]
