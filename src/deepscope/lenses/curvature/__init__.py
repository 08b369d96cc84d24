"""Curvature lens: Hessian-vector products, top eigenvalues, trace and spectral density of the loss Hessian.

This package's namespace is the family's public API; its modules are named by role.
"""

from __future__ import annotations

from deepscope.lenses.curvature.autodiff import SUBSTITUTES, register_substitute
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
from deepscope.lenses.registry import LensCase, register_lens, tiny_data, tiny_net

__all__ = [
    "HessianDensity",
    "HessianEigs",
    "HessianOperator",
    "HessianTrace",
    "SUBSTITUTES",
    "hessian_density",
    "hessian_eigs",
    "hessian_trace",
    "hvp",
    "register_substitute",
]


def _tiny(**kwargs):
    import torch.nn.functional as F

    net = tiny_net(3, 4, 2, activation="tanh", norm=True)
    return LensCase((net, F.cross_entropy, tiny_data(16, 3)), kwargs, model=net)


def _hvp_case():
    import torch

    case = _tiny()
    return LensCase((*case.args, torch.ones(34)), {}, model=case.model)


_NEEDS = ("model", "data", "loss")
_COMMON = [({"seed": -1}, "seed"), ({"kind": "x"}, "kind"), ({"mode": "x"}, "mode"),
           ({"parameters": ["nope"]}, "parameters")]
register_lens("curvature.hvp", hvp, needs=_NEEDS, case=_hvp_case, tidy=False,
              bad=[({"kind": "x"}, "kind"), ({"parameters": ["nope"]}, "parameters")])
register_lens("curvature.hessian_eigs", hessian_eigs, needs=_NEEDS,
              case=lambda: _tiny(k=2, seed=1), seeded=True,
              bad=[*_COMMON, ({"k": 0}, "k"), ({"which": "x"}, "which"),
                   ({"max_hvp": 0}, "max_hvp")])
register_lens("curvature.hessian_trace", hessian_trace, needs=_NEEDS,
              case=lambda: _tiny(max_hvp=40, sketch=4, seed=1), seeded=True,
              bad=[*_COMMON, ({"rtol": 0.0}, "rtol"), ({"max_hvp": 1}, "max_hvp")])
register_lens("curvature.hessian_density", hessian_density, needs=_NEEDS,
              case=lambda: _tiny(n_iter=10, n_grid=20, seed=1), seeded=True,
              bad=[*_COMMON, ({"n_runs": 0}, "n_runs")])
