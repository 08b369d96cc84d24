"""Energy-based models: partition functions and likelihoods of RBMs.

``partition_function(rbm, method="exact" | "ais")`` and ``log_likelihood(rbm, data)``;
the RBM itself is :class:`deepscope.nets.RBM`, Ising data :func:`deepscope.data.ising`.
"""

from __future__ import annotations

from deepscope.lenses.energy.likelihood import LogLikelihood, log_likelihood
from deepscope.lenses.energy.partition import (MAX_EXACT_UNITS, PartitionFunction,
                                               beta_schedule, partition_function)

__all__ = [
    "MAX_EXACT_UNITS",
    "LogLikelihood",
    "PartitionFunction",
    "beta_schedule",
    "log_likelihood",
    "partition_function",
]


def _tiny_rbm():
    import torch

    from deepscope.nets.rbm import RBM

    rbm = RBM(6, 3, init_std=0.5, generator=torch.Generator().manual_seed(0))
    return rbm


def _partition_case():
    from deepscope.lenses.registry import LensCase

    rbm = _tiny_rbm()
    return LensCase(args=(rbm,), kwargs={"method": "ais", "n_chains": 20, "n_betas": 50, "seed": 0},
                    model=rbm)


def _likelihood_case():
    import torch

    from deepscope.lenses.registry import LensCase

    rbm = _tiny_rbm()
    data = (torch.rand(10, 6, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    return LensCase(args=(rbm,), kwargs={"data": data, "method": "ais", "n_chains": 20, "n_betas": 50,
                                              "seed": 0}, model=rbm)


def _register() -> None:
    from deepscope.lenses.registry import register_lens

    register_lens("energy.partition_function", partition_function, needs=("rbm",),
                  case=_partition_case,
                  bad=[({"method": "magic"}, "method"), ({"n_betas": 1}, "n_betas"),
                       ({"n_chains": 0}, "n_chains")], seeded=True)
    register_lens("energy.log_likelihood", log_likelihood, needs=("rbm", "data"),
                  case=_likelihood_case,
                  bad=[({"data": None}, "data"), ({"log_z": 3.0}, "log_z")], seeded=True)


_register()
