"""2-D Ising configurations (J = 1, periodic boundaries), vectorised over temperatures and chains.

.. math::

    H(s) = -\\sum_{\\langle ij \\rangle} s_i s_j, \\qquad p(s) \\propto e^{-H(s)/T}

Two samplers, every chain of every temperature updated at once:

* ``"swendsen-wang"`` (Swendsen & Wang 1987): bonds between equal neighbours with
  probability ``1 - exp(-2/T)``, clusters labelled for the whole batch of lattices in one
  call of scipy's compiled ``connected_components``, each cluster flipped with probability 1/2.
  Its integrated autocorrelation time at ``T_c`` grows only slowly with ``L``.
* ``"checkerboard"``: Metropolis on the two sublattices in turn (vectorised numpy); cheap
  per sweep but critical slowing down (``tau ~ L^2.17`` at ``T_c``).

Wolff single-cluster updates are not offered: grown one cluster at a time they need a
compiled kernel (numba), and the batch Swendsen-Wang already decorrelates in a few sweeps at
``T_c`` (see BENCHMARKS.md). Burn-in and thinning are measured: a pilot run estimates the
integrated autocorrelation time (Sokal's automatic window), and samples are kept every
``ceil(2 tau)`` sweeps; the production run's own ``tau`` is reported per temperature.
A tau is measured on the run itself, so a run much shorter than the true tau under-reports
it (a slow sampler near ``T_c``, e.g. checkerboard at ``L >= 16``, needs an explicit long
``burn_in`` and a long run before its tau is trustworthy).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from deepscope.errors import check_choice, check_float, check_int, param_error

__all__ = ["ONSAGER_TC", "IsingSamples", "ising", "ising_exact", "ising_chain", "block_spin",
           "integrated_autocorrelation_time"]

#: Onsager's critical temperature of the square-lattice Ising model, 2 / ln(1 + sqrt 2).
ONSAGER_TC = 2.0 / math.log(1.0 + math.sqrt(2.0))
ALGORITHMS = ("swendsen-wang", "checkerboard")
#: Longest automatic pilot run (sweeps) when ``burn_in`` is not given.
MAX_PILOT = 51_200


@dataclass(frozen=True)
class IsingSamples:
    """Samples of the 2-D Ising model.

    Attributes:
        spins: ``+-1`` spins, int8 tensor of shape ``(n_temperatures, n, L, L)``.
        temperatures: The temperatures, shape ``(n_temperatures,)``.
        magnetisation: Per-site magnetisation ``mean(s)`` of each sample, ``(n_temperatures, n)``.
        energy: Per-site energy ``H / L^2`` of each sample, ``(n_temperatures, n)``.
        tau_energy: Integrated autocorrelation time (sweeps) of the energy per temperature,
            measured on the production run.
        tau_abs_m: The same for ``|m|``.
        burn_in: Sweeps discarded before the first sample.
        thin: Sweeps between kept samples of a chain.
        n_chains: Chains per temperature.
        algorithm: ``"swendsen-wang"`` or ``"checkerboard"``.
        seed: The seed.
    """

    spins: torch.Tensor
    temperatures: np.ndarray
    magnetisation: np.ndarray
    energy: np.ndarray
    tau_energy: np.ndarray
    tau_abs_m: np.ndarray
    burn_in: int
    thin: int
    n_chains: int
    algorithm: str
    seed: int

    @property
    def L(self) -> int:  # noqa: N802
        """Linear size of the lattice."""
        return int(self.spins.shape[-1])

    def binder(self) -> np.ndarray:
        """Binder cumulant ``U = 1 - <m^4> / (3 <m^2>^2)`` per temperature."""
        m2 = (self.magnetisation ** 2).mean(1)
        return 1.0 - (self.magnetisation ** 4).mean(1) / (3.0 * m2 ** 2)

    def _n_eff(self, tau: np.ndarray) -> np.ndarray:
        n = self.magnetisation.shape[1]
        return n / np.maximum(1.0, 2.0 * tau / self.thin)

    def to_frame(self) -> pd.DataFrame:
        """One row per temperature: ``<|m|>``, ``<e>`` with standard errors, Binder, taus.

        Standard errors are ``std / sqrt(n_eff)`` with ``n_eff = n / max(1, 2 tau / thin)``.
        """
        abs_m, e = np.abs(self.magnetisation), self.energy
        return pd.DataFrame({
            "temperature": self.temperatures,
            "abs_m": abs_m.mean(1),
            "abs_m_stderr": abs_m.std(1) / np.sqrt(self._n_eff(self.tau_abs_m)),
            "energy": e.mean(1),
            "energy_stderr": e.std(1) / np.sqrt(self._n_eff(self.tau_energy)),
            "binder": self.binder(),
            "tau_energy": self.tau_energy,
            "tau_abs_m": self.tau_abs_m,
        })


# ----------------------------------------------------------------------------- helpers


def integrated_autocorrelation_time(series: np.ndarray, *, c: float = 5.0) -> float:
    """Integrated autocorrelation time of ``series`` (``(n_chains, n_steps)`` or ``(n_steps,)``).

    ``tau = 1/2 + sum_{t=1}^{W} rho(t)`` with the chain-averaged autocorrelation ``rho`` and
    Sokal's automatic window: the smallest ``W >= c tau(W)``. A constant series gives 0.5.
    """
    x = np.atleast_2d(np.asarray(series, dtype=np.float64))
    n = x.shape[1]
    if n < 4:
        return 0.5
    x = x - x.mean(1, keepdims=True)
    var = (x ** 2).mean()
    if var <= 1e-15:
        return 0.5
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(x, size, axis=1)
    acf = np.fft.irfft(f * np.conj(f), size, axis=1)[:, :n].mean(0)
    rho = acf / acf[0]
    tau = 0.5
    for w in range(1, n):
        tau += rho[w]
        if w >= c * tau:
            break
    return float(max(tau, 0.5))


def _observables(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-site magnetisation and energy of lattices ``(B, L, L)``."""
    n = s.shape[-1] * s.shape[-2]
    si = s.astype(np.int32)
    bonds = (si * (np.roll(si, -1, -1) + np.roll(si, -1, -2))).sum((-1, -2))
    return si.sum((-1, -2)) / n, -bonds / n


def _sw_sweep(s: np.ndarray, p_bond: np.ndarray, rng: np.random.Generator) -> None:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    B, L, _ = s.shape
    idx = np.arange(B * L * L).reshape(B, L, L)
    rows, cols = [], []
    for axis in (1, 2):
        nb = np.roll(s, -1, axis)
        bond = (s == nb) & (rng.random(s.shape) < p_bond[:, None, None])
        rows.append(idx[bond])
        cols.append(np.roll(idx, -1, axis)[bond])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(r.size, dtype=np.int8), (r, c)), shape=(B * L * L,) * 2)
    n_comp, labels = connected_components(graph, directed=False)
    flip = np.where(rng.random(n_comp) < 0.5, -1, 1).astype(np.int8)
    s *= flip[labels].reshape(B, L, L)


def _checkerboard_sweep(s: np.ndarray, beta: np.ndarray, mask: tuple, rng) -> None:
    for sub in mask:
        nb = (np.roll(s, 1, 1) + np.roll(s, -1, 1) + np.roll(s, 1, 2)
              + np.roll(s, -1, 2)).astype(np.int32)
        d_e = 2 * s.astype(np.int32) * nb
        accept = rng.random(s.shape) < np.exp(-beta[:, None, None] * d_e)
        s[accept & sub] *= -1


class _Chains:
    def __init__(self, algorithm: str, temps: np.ndarray, n_chains: int, L: int, rng) -> None:
        self.algorithm, self.rng, self.L = algorithm, rng, L
        self.beta = np.repeat(1.0 / temps, n_chains)
        self.p_bond = 1.0 - np.exp(-2.0 * self.beta)
        signs = np.where(rng.random(self.beta.size) < 0.5, -1, 1).astype(np.int8)
        self.s = np.ones((self.beta.size, L, L), dtype=np.int8) * signs[:, None, None]
        par = (np.add.outer(np.arange(L), np.arange(L)) % 2).astype(bool)
        self.mask = (par[None], ~par[None])

    def sweep(self) -> None:
        if self.algorithm == "swendsen-wang":
            _sw_sweep(self.s, self.p_bond, self.rng)
        else:
            _checkerboard_sweep(self.s, self.beta, self.mask, self.rng)

    def run(self, sweeps: int, keep_every: int = 0):
        m, e, kept = [np.zeros((self.beta.size, 0))], [np.zeros((self.beta.size, 0))], []
        for t in range(1, sweeps + 1):
            self.sweep()
            mt, et = _observables(self.s)
            m.append(mt)
            e.append(et)
            if keep_every and t % keep_every == 0:
                kept.append(self.s.copy())
        return (np.concatenate([m[0], np.stack(m[1:], 1)], 1) if len(m) > 1 else m[0],
                np.concatenate([e[0], np.stack(e[1:], 1)], 1) if len(e) > 1 else e[0], kept)


def _taus(m: np.ndarray, e: np.ndarray, n_t: int, n_chains: int) -> tuple[np.ndarray, ...]:
    te = np.array([integrated_autocorrelation_time(e[i * n_chains:(i + 1) * n_chains])
                   for i in range(n_t)])
    tm = np.array([integrated_autocorrelation_time(np.abs(m[i * n_chains:(i + 1) * n_chains]))
                   for i in range(n_t)])
    return te, tm


def _check_temperatures(temperatures, func: str) -> np.ndarray:
    if isinstance(temperatures, numbers.Real) and not isinstance(temperatures, bool):
        temperatures = [temperatures]
    try:
        temps = np.asarray(list(temperatures), dtype=np.float64)
    except (TypeError, ValueError):
        raise param_error("temperatures", func, "a non-empty sequence of positive floats",
                          temperatures, type_error=True) from None
    if temps.ndim != 1 or temps.size == 0 or not np.all(np.isfinite(temps)) or np.any(temps <= 0):
        raise param_error("temperatures", func, "a non-empty sequence of positive floats",
                          temperatures)
    return temps


def _check_seed(seed, func: str) -> int:
    return check_int(seed, "seed", func, low=0)


# ----------------------------------------------------------------------------- samplers


def ising(L: int, temperatures: float | Sequence[float], n: int, *, seed: int = 0,
          algorithm: str = "swendsen-wang", n_chains: int | None = None,
          burn_in: int | None = None, thin: int | None = None) -> IsingSamples:
    """Sample ``n`` configurations of the ``L x L`` Ising model at each temperature.

    Args:
        L: Linear lattice size (periodic boundaries, J = 1, k_B = 1).
        temperatures: One temperature or a sequence of them.
        n: Configurations per temperature.
        seed: Seed of the sampler.
        algorithm: ``"swendsen-wang"`` (default) or ``"checkerboard"`` Metropolis.
        n_chains: Independent chains per temperature (default ``min(n, 32)``); each chain
            gives ``ceil(n / n_chains)`` samples.
        burn_in: Sweeps before the first sample. Default: a pilot of 100 sweeps, doubled until
            it is at least ``20 tau`` long (``tau`` measured on its second half, slowest
            temperature and observable; at most ``MAX_PILOT`` sweeps).
        thin: Sweeps between kept samples. Default ``ceil(2 tau)`` of the pilot's slowest tau.

    Returns:
        An :class:`IsingSamples` with spins of shape ``(len(temperatures), n, L, L)``.

    Example:
        >>> import deepscope as ds
        >>> s = ds.data.ising(8, [1.5, 3.5], 20, seed=0)
        >>> s.spins.shape, bool(s.to_frame().abs_m[0] > s.to_frame().abs_m[1])
        (torch.Size([2, 20, 8, 8]), True)
    """
    func = "ising"
    check_int(L, "L", func, low=2, high=4096)
    temps = _check_temperatures(temperatures, func)
    check_int(n, "n", func, low=1, high=100_000_000)
    seed = _check_seed(seed, func)
    check_choice(algorithm, "algorithm", func, ALGORITHMS)
    n_chains = min(n, 32) if n_chains is None else check_int(n_chains, "n_chains", func, low=1,
                                                             high=1_000_000)
    if burn_in is not None:
        check_int(burn_in, "burn_in", func, low=0)
    if thin is not None:
        check_int(thin, "thin", func, low=1)
    rng = np.random.default_rng(seed)
    chains = _Chains(algorithm, temps, n_chains, L, rng)
    n_t = temps.size
    if burn_in is None or thin is None:
        pilot = 100 if burn_in is None else max(burn_in, 20)
        m, e, _ = chains.run(pilot)
        while True:
            half = pilot // 2
            te, tm = _taus(m[:, half:], e[:, half:], n_t, n_chains)
            tau = float(max(te.max(), tm.max()))
            # a pilot shorter than ~20 tau has not equilibrated and under-measures tau
            if burn_in is not None or 20 * tau <= pilot or pilot >= MAX_PILOT:
                break
            m2, e2, _ = chains.run(pilot)
            m, e, pilot = np.concatenate([m, m2], 1), np.concatenate([e, e2], 1), 2 * pilot
        if burn_in is None:
            extra = max(0, math.ceil(20 * tau) - pilot)
            chains.run(extra)
            burn_in = pilot + extra
        else:
            chains.run(max(0, burn_in - pilot))
        thin = thin or max(1, math.ceil(2 * tau))
    else:
        chains.run(burn_in)
    per_chain = -(-n // n_chains)
    m, e, kept = chains.run(per_chain * thin, keep_every=thin)
    te, tm = _taus(m, e, n_t, n_chains)
    # (per_chain, T * C, L, L) -> (T, C * per_chain, L, L), samples of chain 0 first
    arr = np.stack(kept, 0).reshape(per_chain, n_t, n_chains, L, L)
    arr = arr.transpose(1, 2, 0, 3, 4).reshape(n_t, n_chains * per_chain, L, L)[:, :n]
    mag, en = _observables(arr.reshape(-1, L, L))
    return IsingSamples(torch.from_numpy(np.ascontiguousarray(arr)), temps,
                        mag.reshape(n_t, -1), en.reshape(n_t, -1), te, tm, int(burn_in),
                        int(thin), int(n_chains), algorithm, seed)


def ising_exact(L: int, temperatures: float | Sequence[float]) -> pd.DataFrame:
    """Exact averages of the ``L x L`` periodic Ising model by enumerating all ``2^(L^2)`` states.

    Args:
        L: 2, 3 or 4 (65,536 states).
        temperatures: One temperature or a sequence of them.

    Returns:
        One row per temperature: ``temperature, abs_m, energy, m2, m4, binder`` (per site).
    """
    check_int(L, "L", "ising_exact", low=2, high=4)
    temps = _check_temperatures(temperatures, "ising_exact")
    n = L * L
    idx = np.arange(1 << n, dtype=np.int64)
    s = (2 * ((idx[:, None] >> np.arange(n)) & 1) - 1).astype(np.int8).reshape(-1, L, L)
    m, e = _observables(s)
    rows = []
    for t in temps:
        logw = -e * n / t
        w = np.exp(logw - logw.max())
        w /= w.sum()
        m2, m4 = float(w @ m ** 2), float(w @ m ** 4)
        rows.append({"temperature": float(t), "abs_m": float(w @ np.abs(m)),
                     "energy": float(w @ e), "m2": m2, "m4": m4,
                     "binder": 1 - m4 / (3 * m2 ** 2)})
    return pd.DataFrame(rows)


def ising_chain(n_sites: int, coupling: float, n: int, *, seed: int = 0) -> torch.Tensor:
    """Exact samples of the open 1-D Ising chain ``p(s) ~ exp(K sum_i s_i s_{i+1})``.

    Neighbours agree with probability ``(1 + tanh K) / 2``, independently, so the samples are
    exact and independent. Returns an int8 tensor of shape ``(n, n_sites)``.
    """
    check_int(n_sites, "n_sites", "ising_chain", low=1, high=100_000_000)
    k = check_float(coupling, "coupling", "ising_chain", low=-50.0, high=50.0)
    check_int(n, "n", "ising_chain", low=1, high=100_000_000)
    rng = np.random.default_rng(_check_seed(seed, "ising_chain"))
    first = np.where(rng.random((n, 1)) < 0.5, -1, 1)
    agree = np.where(rng.random((n, n_sites - 1)) < (1 + math.tanh(k)) / 2, 1, -1)
    s = np.concatenate([first, first * np.cumprod(agree, 1)], 1)
    return torch.from_numpy(s.astype(np.int8))


def block_spin(spins: torch.Tensor, b: int = 2, *, rule: str = "majority", dims: int = 2,
               seed: int = 0) -> torch.Tensor:
    """Kadanoff block spins: ``b x b`` blocks (or length-``b`` blocks for ``dims=1``) -> one spin.

    Args:
        spins: ``+-1`` spins; the last ``dims`` axes are the lattice (sizes divisible by ``b``).
        b: Block size.
        rule: ``"majority"`` (sign of the block sum; ties broken by a seeded coin) or
            ``"decimation"`` (keep the first spin of each block).
        dims: 1 or 2 lattice dimensions.
        seed: Seed of the tie-breaking coin.

    Returns:
        Spins of the same dtype with each lattice axis ``b`` times shorter.
    """
    func = "block_spin"
    if not isinstance(spins, torch.Tensor):
        raise param_error("spins", func, "a tensor of +-1", type(spins).__name__,
                          type_error=True)
    check_int(b, "b", func, low=1)
    check_choice(rule, "rule", func, ("majority", "decimation"))
    check_choice(dims, "dims", func, (1, 2))
    shape = spins.shape
    if spins.ndim < dims or any(d % b for d in shape[-dims:]):
        raise param_error("spins", func, f"a tensor whose last {dims} sizes are divisible by "
                          f"b={b}", tuple(shape))
    if rule == "decimation":
        return spins[..., ::b] if dims == 1 else spins[..., ::b, ::b]
    if dims == 1:
        total = spins.reshape(*shape[:-1], shape[-1] // b, b).float().sum(-1)
    else:
        L1, L2 = shape[-2], shape[-1]
        total = spins.reshape(*shape[:-2], L1 // b, b, L2 // b, b).float().sum((-1, -3))
    gen = torch.Generator().manual_seed(check_int(seed, "seed", func, low=0))
    coin = torch.where(torch.rand(total.shape, generator=gen) < 0.5, -1.0, 1.0)
    return torch.where(total == 0, coin, torch.sign(total)).to(spins.dtype)
