"""Average log-likelihood of data under an RBM: ``-F(v) - log Z``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import torch

from deepscope.errors import param_error
from deepscope.lenses.energy.partition import (PartitionFunction, _check_rbm,
                                               partition_function)

__all__ = ["LogLikelihood", "log_likelihood"]


@dataclass(frozen=True)
class LogLikelihood:
    """Mean log-likelihood of a data set under an RBM.

    Attributes:
        lens: ``"energy.log_likelihood"``.
        mean: ``mean_n(-F(v_n)) - log Z`` (nats per example).
        stderr: ``log Z``'s standard error (the data term is exact).
        mean_free_energy: ``mean_n F(v_n)``.
        log_z: The partition function used (its method, seed, ...).
        n: Number of examples.
    """

    lens: str
    mean: float
    stderr: float
    mean_free_energy: float
    log_z: PartitionFunction
    n: int

    @property
    def seed(self) -> int | None:
        """The seed of the partition-function estimate."""
        return self.log_z.seed

    def to_frame(self) -> pd.DataFrame:
        """One row: the data set."""
        return pd.DataFrame([{"log_likelihood": self.mean, "stderr": self.stderr,
                              "mean_free_energy": self.mean_free_energy,
                              "log_z": self.log_z.log_z, "method": self.log_z.method,
                              "n": self.n}])

    def tidy(self) -> pd.DataFrame:
        """Rows ``layer="rbm"``, metric in ``log_likelihood, stderr, mean_free_energy, log_z``."""
        rows = [("log_likelihood", self.mean), ("stderr", self.stderr),
                ("mean_free_energy", self.mean_free_energy), ("log_z", self.log_z.log_z)]
        return pd.DataFrame({"layer": "rbm", "metric": [m for m, _ in rows],
                             "value": [float(v) for _, v in rows]})


def log_likelihood(rbm, data: torch.Tensor, *, log_z: PartitionFunction | None = None,
                   method: str = "exact", n_chains: int = 100, n_betas: int = 10_000,
                   seed: int | torch.Generator = 0) -> LogLikelihood:
    """Mean log-likelihood ``(1/n) sum_n log p(v_n)`` of ``data`` under ``rbm``.

    Args:
        rbm: A :class:`deepscope.nets.RBM` (not modified).
        data: Visible configurations, shape ``(n, n_visible)`` (or ``(n, ...)`` flattened).
        log_z: A partition function already computed for this model; otherwise one is
            computed with ``method`` / ``n_chains`` / ``n_betas`` / ``seed`` (AIS uses the data's
            base rates).
        method, n_chains, n_betas, seed: as in :func:`partition_function`.

    Returns:
        A :class:`LogLikelihood`.

    Example:
        >>> import torch, deepscope as ds
        >>> rbm = ds.nets.RBM(8, 4)
        >>> ll = ds.lenses.energy.log_likelihood(rbm, torch.ones(5, 8))
        >>> round(ll.mean / 8, 3)   # ~ log(1/2) per unit for weights near 0
        -0.693
    """
    func = "log_likelihood"
    rbm = _check_rbm(rbm, func)
    if not isinstance(data, torch.Tensor) or data.ndim < 1 or data.shape[0] == 0:
        raise param_error("data", func, "a non-empty tensor", type(data).__name__,
                          type_error=not isinstance(data, torch.Tensor))
    v = data.reshape(data.shape[0], -1)
    if v.shape[1] != rbm.n_visible:
        raise param_error("data", func, f"a tensor with {rbm.n_visible} values per row",
                          tuple(data.shape))
    if log_z is None:
        log_z = partition_function(rbm, method, n_chains=n_chains, n_betas=n_betas, seed=seed,
                                   data=v if method == "ais" else None)
    elif not isinstance(log_z, PartitionFunction):
        raise param_error("log_z", func, "None or a PartitionFunction", type(log_z).__name__,
                          type_error=True)
    with torch.no_grad():
        W = rbm.W.detach().double()
        v = v.to(W.device).double()
        fe = -(v @ rbm.b.detach().double()) - torch.nn.functional.softplus(
            v @ W + rbm.c.detach().double()).sum(-1)
    mfe = float(fe.mean())
    if not math.isfinite(mfe):
        raise param_error("data", func, "finite visible values", "non-finite free energy")
    return LogLikelihood("energy.log_likelihood", -mfe - log_z.log_z, log_z.stderr, mfe,
                         log_z, int(v.shape[0]))
