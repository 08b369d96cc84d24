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
