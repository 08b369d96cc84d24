"""Partition function of an RBM: exact enumeration and annealed importance sampling.

Exact: sum over every state of the smaller layer with the other layer summed out in closed
form. AIS (Neal 2001; Salakhutdinov & Murray 2008, "On the quantitative analysis of deep
belief networks", ICML): anneal from a base-rate RBM (zero weights and hidden biases) to the
target through the geometric path

.. math::

    \\log p^*_\\beta(v) = (1-\\beta)\\, v^\\top b_A + \\beta\\, v^\\top b
        + \\sum_j \\operatorname{softplus}\\big(\\beta (c_j + (v W)_j)\\big),

with one block-Gibbs transition per temperature. Reverse AIS runs the same path backwards
from approximate model samples; its estimate is an upper estimate of ``log Z`` in
expectation (exact when the starting states are exact model samples; Burda, Grosse &
Salakhutdinov 2015, arXiv 1412.8566).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from deepscope.errors import check_choice, check_int, param_error

__all__ = ["PartitionFunction", "partition_function", "beta_schedule", "MAX_EXACT_UNITS"]

#: Largest smaller layer that ``method="exact"`` enumerates (2^28 states).
MAX_EXACT_UNITS = 28
_CHUNK = 1 << 14


@dataclass(frozen=True)
class PartitionFunction:
    """``log Z`` of an RBM.

    Attributes:
        lens: ``"energy.partition_function"``.
        log_z: The estimate of ``log Z`` (nats).
        stderr: Standard error of ``log_z`` (0 for exact enumeration; AIS: delta method
            over the importance weights, ``std(w) / (sqrt(n) mean(w))``).
        method: ``"exact"`` or ``"ais"``.
        log_z_upper: Reverse-AIS upper estimate (``nan`` unless ``reverse=True``).
        log_z_base: ``log Z`` of the base-rate RBM the annealing starts from (AIS).
        log_weights: The AIS log importance weights, one per chain (empty for exact).
        n_chains: AIS chains; n_betas: intermediate temperatures; seed: the seed (``None``
            when a generator was passed).
        enumerated: ``"hidden"`` or ``"visible"``: the layer summed over (exact).
    """

    lens: str
    log_z: float
    stderr: float
    method: str
    log_z_upper: float
    log_z_base: float
    log_weights: np.ndarray
    n_chains: int
    n_betas: int
    seed: int | None
    enumerated: str

    def to_frame(self) -> pd.DataFrame:
        """One row: the model."""
        return pd.DataFrame([{"method": self.method, "log_z": self.log_z,
                              "stderr": self.stderr, "log_z_upper": self.log_z_upper,
                              "n_chains": self.n_chains, "n_betas": self.n_betas,
                              "seed": self.seed}])

    def tidy(self) -> pd.DataFrame:
        """Rows ``layer="rbm"``, metric in ``log_z, stderr, log_z_upper``."""
        rows = [("log_z", self.log_z), ("stderr", self.stderr),
                ("log_z_upper", self.log_z_upper)]
        return pd.DataFrame({"layer": "rbm", "metric": [m for m, _ in rows],
                             "value": [float(v) for _, v in rows]})


def _check_rbm(rbm, func: str):
    from deepscope.nets.rbm import RBM

    if not isinstance(rbm, RBM):
        raise param_error("rbm", func, "a deepscope.nets.RBM", type(rbm).__name__,
                          type_error=True)
    return rbm


def _seed(seed, func: str, device) -> tuple[torch.Generator, int | None]:
    if isinstance(seed, torch.Generator):
        return seed, None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise param_error("seed", func, "an int >= 0 or a torch.Generator", seed,
                          type_error=not isinstance(seed, numbers.Integral))
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen, int(seed)


def _params(rbm) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (rbm.W.detach().double(), rbm.b.detach().double(), rbm.c.detach().double())


def _log_sum_cosh(a: torch.Tensor) -> torch.Tensor:
    return (a.abs() + F.softplus(-2 * a.abs())).sum(-1)


def _states(start: int, stop: int, n: int, spin: bool, device) -> torch.Tensor:
    idx = torch.arange(start, stop, device=device, dtype=torch.int64)
    bits = ((idx[:, None] >> torch.arange(n, device=device)) & 1).double()
    return 2 * bits - 1 if spin else bits


def _exact(rbm) -> tuple[float, str]:
    W, b, c = _params(rbm)
    spin = rbm.visible == "spin"
    nv, nh = W.shape
    total = torch.tensor(-math.inf, dtype=torch.float64, device=W.device)
    if nh <= nv:
        for start in range(0, 1 << nh, _CHUNK):
            h = _states(start, min(start + _CHUNK, 1 << nh), nh, False, W.device)
            a = h @ W.T + b
            vis = _log_sum_cosh(a) if spin else F.softplus(a).sum(-1)
            total = torch.logaddexp(total, torch.logsumexp(h @ c + vis, 0))
        return float(total), "hidden"
    for start in range(0, 1 << nv, _CHUNK):
        v = _states(start, min(start + _CHUNK, 1 << nv), nv, spin, W.device)
        val = v @ b + F.softplus(v @ W + c).sum(-1)
        total = torch.logaddexp(total, torch.logsumexp(val, 0))
    return float(total), "visible"


def beta_schedule(n_betas: int) -> np.ndarray:
    """Inverse temperatures ``0 = beta_0 < ... < beta_K = 1`` (``K = n_betas``).

    The spacing follows Salakhutdinov & Murray (2008): 1/29 of the steps on [0, 0.5],
    8/29 on [0.5, 0.9] and 20/29 on [0.9, 1].
    """
    n1 = max(1, round(n_betas / 29))
    n2 = max(1, round(n_betas * 8 / 29))
    n3 = max(1, n_betas - n1 - n2)
    return np.concatenate([np.linspace(0, 0.5, n1 + 1)[:-1], np.linspace(0.5, 0.9, n2 + 1)[:-1],
                           np.linspace(0.9, 1.0, n3 + 1)])


class _Path:
    """The geometric path between the base-rate RBM and the target, in float64."""

    def __init__(self, rbm, base_bias: torch.Tensor) -> None:
        self.W, self.b, self.c = _params(rbm)
        self.bA = base_bias.double()
        self.spin = rbm.visible == "spin"

    def _terms(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``v W + c``, ``v . b_A`` and ``v . b``: all the path needs of a state."""
        return v @ self.W + self.c, v @ self.bA, v @ self.b

    @staticmethod
    def _log_p(terms, beta: float) -> torch.Tensor:
        pre, lin_a, lin_b = terms
        return (1 - beta) * lin_a + beta * lin_b + F.softplus(beta * pre).sum(-1)

    def step(self, v: torch.Tensor, beta: float, gen: torch.Generator,
             pre: torch.Tensor | None = None) -> torch.Tensor:
        """One block-Gibbs transition that leaves ``p*_beta`` invariant."""
        pre = v @ self.W + self.c if pre is None else pre
        ph = torch.sigmoid(beta * pre)
        h = (torch.rand(ph.shape, generator=gen, device=ph.device, dtype=ph.dtype) < ph).double()
        a = (1 - beta) * self.bA + beta * (self.b + h @ self.W.T)
        pv = torch.sigmoid(2 * a if self.spin else a)
        v = (torch.rand(pv.shape, generator=gen, device=pv.device, dtype=pv.dtype) < pv).double()
        return 2 * v - 1 if self.spin else v

    def base_sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        p = torch.sigmoid(2 * self.bA if self.spin else self.bA).expand(n, -1)
        v = (torch.rand(p.shape, generator=gen, device=p.device, dtype=p.dtype) < p).double()
        return 2 * v - 1 if self.spin else v

    def run(self, v: torch.Tensor, betas: np.ndarray, gen: torch.Generator
            ) -> tuple[torch.Tensor, torch.Tensor]:
        """Anneal along ``betas`` from states ``v`` invariant under ``betas[0]``.

        Each state's ``v W + c`` serves both weight terms and the next transition, so a
        temperature costs two matrix products.
        """
        logw = torch.zeros(v.shape[0], dtype=torch.float64, device=v.device)
        terms = self._terms(v)
        prev = float(betas[0])
        for beta in betas[1:]:
            beta = float(beta)
            logw += self._log_p(terms, beta) - self._log_p(terms, prev)
            v = self.step(v, beta, gen, terms[0])
            terms = self._terms(v)
            prev = beta
        return logw, v


def _log_mean_exp(x: torch.Tensor) -> float:
    return float(torch.logsumexp(x, 0) - math.log(x.numel()))


def _stderr(logw: torch.Tensor) -> float:
    w = torch.exp(logw - logw.max())
    return float(w.std() / (w.mean() * math.sqrt(w.numel()))) if w.numel() > 1 else math.inf


def _base_bias(rbm, data, func: str) -> torch.Tensor:
    b = torch.zeros(rbm.n_visible, dtype=torch.float64, device=rbm.W.device)
    if data is None:
        return b
    if not isinstance(data, torch.Tensor) or data.shape[-1] != rbm.n_visible:
        raise param_error("data", func, f"None or a tensor (n, {rbm.n_visible})",
                          getattr(data, "shape", type(data).__name__))
    mean = data.reshape(-1, rbm.n_visible).double().mean(0).to(b.device)
    if rbm.visible == "spin":
        return torch.atanh(mean.clamp(-1 + 1e-3, 1 - 1e-3))
    p = mean.clamp(1e-3, 1 - 1e-3)
    return torch.log(p) - torch.log1p(-p)


def partition_function(rbm, method: str = "exact", *, n_chains: int = 100,
                       n_betas: int = 10_000, seed: int | torch.Generator = 0,
                       data: torch.Tensor | None = None, reverse: bool = False,
                       reverse_burn_in: int = 100) -> PartitionFunction:
    """``log Z`` of an RBM, exactly or by annealed importance sampling.

    Args:
        rbm: A :class:`deepscope.nets.RBM` (not modified).
        method: ``"exact"`` (enumerates the smaller layer, at most ``MAX_EXACT_UNITS`` units)
            or ``"ais"``.
        n_chains: AIS chains, run at once.
        n_betas: AIS intermediate distributions (Salakhutdinov & Murray used 14,500).
        seed: Seed or generator of the AIS sampling.
        data: Optional training data; the base-rate RBM then takes its visible biases from
            the data's mean (Salakhutdinov & Murray's choice); otherwise zero biases.
        reverse: Also run reverse AIS from the forward chains' final states (after
            ``reverse_burn_in`` Gibbs steps in the model) for ``log_z_upper``; doubles the cost.
        reverse_burn_in: Gibbs steps before the reverse run.

    Returns:
        A :class:`PartitionFunction`.

    Raises:
        DeepscopeValueError: unknown method, a layer too large to enumerate, bad counts.

    Example:
        >>> import deepscope as ds
        >>> rbm = ds.nets.RBM(8, 4)
        >>> z = ds.lenses.energy.partition_function(rbm, "exact")
        >>> round(z.log_z, 2)   # ~ 12 log 2 = 8.318 for weights near 0
        8.32
    """
    func = "partition_function"
    rbm = _check_rbm(rbm, func)
    check_choice(method, "method", func, ("exact", "ais"))
    check_int(n_chains, "n_chains", func, low=2, high=10_000_000)
    check_int(n_betas, "n_betas", func, low=2, high=10_000_000)
    check_int(reverse_burn_in, "reverse_burn_in", func, low=0)
    gen, seed_value = _seed(seed, func, rbm.W.device)
    if method == "exact":
        small = min(rbm.n_visible, rbm.n_hidden)
        if small > MAX_EXACT_UNITS:
            raise param_error("method", func, f"'ais' for an RBM whose smaller layer has more "
                              f"than {MAX_EXACT_UNITS} units ({small} here)", method)
        with torch.no_grad():
            log_z, layer = _exact(rbm)
        return PartitionFunction("energy.partition_function", log_z, 0.0, "exact", math.nan,
                                 math.nan, np.zeros(0), 0, 0, seed_value, layer)
    bias = _base_bias(rbm, data, func)
    with torch.no_grad():
        path = _Path(rbm, bias)
        log_za = float(_log_sum_cosh(bias) if path.spin else F.softplus(bias).sum()) \
            + rbm.n_hidden * math.log(2.0)
        betas = beta_schedule(n_betas)
        logw, v = path.run(path.base_sample(n_chains, gen), betas, gen)
        log_z = log_za + _log_mean_exp(logw)
        upper = math.nan
        if reverse:
            for _ in range(reverse_burn_in):
                v = path.step(v, 1.0, gen)
            logw_rev, _ = path.run(v, betas[::-1].copy(), gen)
            upper = log_za - _log_mean_exp(logw_rev)
    return PartitionFunction("energy.partition_function", log_z, _stderr(logw), "ais", upper,
                             log_za, logw.cpu().numpy(), int(n_chains), int(n_betas),
                             seed_value, "")
