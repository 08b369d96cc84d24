"""Result types of the spectra lens (private module; re-exported by ``spectra``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepscope.errors import param_error
from deepscope.lenses._result import Tidy


def js_distance(p: torch.Tensor, q: torch.Tensor) -> float:
    """Jensen-Shannon distance (natural log) between two non-negative vectors, normalised.

    WeightWatcher's ``rand_distance`` applies this to the sorted real and randomised
    eigenvalues of a layer.
    """
    p = p / p.sum()
    q = q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: torch.Tensor) -> torch.Tensor:
        pos = a > 0
        return (a[pos] * torch.log(a[pos] / m[pos])).sum()

    return float(torch.sqrt(((kl(p) + kl(q)) / 2).clamp_min(0.0)))


@dataclass(frozen=True, eq=False)
class PowerLawFit(Tidy):
    """A continuous power-law fit :math:`p(x) \\propto x^{-\\alpha}`, ``x >= xmin``.

    ``to_frame()``: one row (the fit); ``tidy()``: ``layer`` is ``""``.

    Attributes:
        alpha: MLE exponent (NaN when no fit was possible).
        xmin: lower bound of the tail.
        D: Kolmogorov-Smirnov distance of the tail to the fit.
        n_tail: number of values ``>= xmin``.
        sigma: standard error ``(alpha - 1) / sqrt(n_tail)``.
        n: number of positive values given.
        xmin_searched: whether ``xmin`` was chosen by minimum KS distance.
        candidates_xmin: every candidate ``xmin`` (empty for a fixed ``xmin``).
        candidates_alpha: the MLE exponent of each candidate.
        candidates_D: the KS distance of each candidate.
        lens: ``"spectra.fit_power_law"``.
    """

    _metrics = ("alpha", "xmin", "D", "n_tail", "sigma", "n", "xmin_searched")
    _layer = None

    alpha: float
    xmin: float
    D: float
    n_tail: int
    sigma: float
    n: int
    xmin_searched: bool
    candidates_xmin: np.ndarray
    candidates_alpha: np.ndarray
    candidates_D: np.ndarray
    lens: str = "spectra.fit_power_law"

    @classmethod
    def empty(cls, n: int, searched: bool, xmin: float = float("nan")) -> PowerLawFit:
        """The NaN fit of a spectrum too small to fit."""
        nan = float("nan")
        none = np.empty(0)
        return cls(nan, xmin, nan, 0, nan, n, searched, none, none, none)

    def pdf(self, x: Any) -> np.ndarray:
        """Density of the fitted tail at ``x`` (0 below ``xmin``), integrating to 1."""
        x = np.asarray(x, dtype=np.float64)
        a, lo = self.alpha, self.xmin
        with np.errstate(divide="ignore", invalid="ignore"):
            val = (a - 1.0) / lo * (x / lo) ** (-a)
        return np.where(x >= lo, val, 0.0)

    def to_frame(self):
        """One row: ``alpha, xmin, D, n_tail, sigma, n, xmin_searched``."""
        import pandas as pd

        return pd.DataFrame([{"alpha": self.alpha, "xmin": self.xmin, "D": self.D,
                              "n_tail": self.n_tail, "sigma": self.sigma, "n": self.n,
                              "xmin_searched": self.xmin_searched}])


@dataclass(frozen=True, eq=False)
class MarchenkoPasturFit(Tidy):
    """Marchenko-Pastur fit of the bulk of a spectrum, in the units of the eigenvalues.

    ``to_frame()``: one row (the fit); ``tidy()``: ``layer`` is ``""``.

    Attributes:
        q: aspect ratio ``N / M``.
        bulk_variance: the MP scale :math:`\\sigma^2` (``N`` times the entry variance for
            eigenvalues of ``W^T W``).
        bulk_min: lower bulk edge :math:`\\sigma^2 (1 - q^{-1/2})^2`.
        bulk_max: upper bulk edge :math:`\\lambda_+ = \\sigma^2 (1 + q^{-1/2})^2`.
        tw_margin: margin above ``bulk_max`` beyond which an eigenvalue is a spike.
        n_spikes: eigenvalues above ``bulk_max + tw_margin``.
        mp_softrank: ``bulk_max / lambda_max``.
        sigma_mp: fitted scale in units of the root mean eigenvalue (WeightWatcher's).
        lambda_max: the largest eigenvalue.
        m: eigenvalues per matrix used in the margin.
        lens: ``"spectra.fit_marchenko_pastur"``.
    """

    _metrics = ("q", "bulk_variance", "bulk_min", "bulk_max", "tw_margin", "n_spikes",
                "mp_softrank", "sigma_mp", "lambda_max", "m")
    _layer = None

    q: float
    bulk_variance: float
    bulk_min: float
    bulk_max: float
    tw_margin: float
    n_spikes: int
    mp_softrank: float
    sigma_mp: float
    lambda_max: float
    m: int
    lens: str = "spectra.fit_marchenko_pastur"

    def pdf(self, x: Any) -> np.ndarray:
        """The fitted MP density at eigenvalues ``x`` (0 outside the bulk)."""
        x = np.asarray(x, dtype=np.float64)
        s2, q = self.bulk_variance, self.q
        lo, hi = self.bulk_min, self.bulk_max
        with np.errstate(divide="ignore", invalid="ignore"):
            val = q * np.sqrt(np.clip((hi - x) * (x - lo), 0.0, None)) / (2 * math.pi * s2 * x)
        return np.where((x > lo) & (x < hi), val, 0.0)

    def to_frame(self):
        """One row with every field but ``lens``."""
        import pandas as pd

        return pd.DataFrame([{k: getattr(self, k) for k in self.__dataclass_fields__
                              if k != "lens"}])


_COLUMNS = ("layer", "matrix", "kind", "N", "M", "n_slices", "q", "n_evals", "lambda_max",
            "alpha", "alpha_hat", "D", "xmin", "n_tail", "sigma", "stable_rank", "log_norm",
            "log_spectral_norm", "log_alpha_norm", "n_spikes", "mp_softrank", "bulk_variance",
            "bulk_max", "rand_lambda_max", "rand_distance", "n_traps", "note", "aliases")


@dataclass(frozen=True, eq=False)
class WeightSpectra(Tidy):
    """Spectra and fits of every weight matrix of a model (see :func:`analyze_weights`).

    ``to_frame()``: one row per matrix; ``tidy()``: ``layer, matrix, metric, value``.

    Attributes:
        layers: module name of each matrix (``named_modules()``).
        matrices: ``"weight"`` or ``"q"``/``"k"``/``"v"`` (attention input projection).
        kinds: ``"linear"``, ``"conv"``, ``"embedding"``, ``"attention"``.
        shapes: original parameter shapes.
        N: larger side of each matrix (slice).
        M: smaller side.
        n_slices: slices pooled per matrix (conv kernel positions).
        eigenvalues: ascending eigenvalues of ``W^T W`` per matrix (numpy, float).
        random_eigenvalues: the same for the permuted matrices, or ``None``.
        power_law: :class:`PowerLawFit` per matrix.
        marchenko_pastur: :class:`MarchenkoPasturFit` per matrix (``None`` without mp_fit).
        random_marchenko_pastur: MP fits of the randomised spectra (or ``None``).
        metrics: per matrix, norms and randomisation metrics.
        params: the options of the analysis.
        seed: seed of the permutations.
        notes: per matrix, why its power-law fit is NaN (fewer than ``min_evals``
            eigenvalues) and whether it is a depthwise conv; ``""`` otherwise.
        aliases: per matrix, the other module names of the same (tied) tensor.
        skipped: ``(parameter name, reason)`` of every parameter not analysed.
        seed: seed of the permutations (``None`` when a Generator was given).
        lens: ``"spectra.analyze_weights"``.
    """

    _metrics = tuple(c for c in _COLUMNS
                     if c not in ("layer", "matrix", "kind", "note", "aliases"))
    _keys = ("matrix",)

    layers: tuple[str, ...]
    matrices: tuple[str, ...]
    kinds: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    N: tuple[int, ...]
    M: tuple[int, ...]
    n_slices: tuple[int, ...]
    eigenvalues: tuple[np.ndarray, ...]
    random_eigenvalues: tuple[np.ndarray, ...] | None
    power_law: tuple[PowerLawFit, ...]
    marchenko_pastur: tuple[MarchenkoPasturFit | None, ...]
    random_marchenko_pastur: tuple[MarchenkoPasturFit | None, ...]
    metrics: tuple[dict, ...]
    params: dict
    seed: int
    notes: tuple[str, ...] = ()
    aliases: tuple[tuple[str, ...], ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    seed: int | None
    lens: str = "spectra.analyze_weights"

    def index(self, layer: str | int, matrix: str | None = None) -> int:
        """Position of the matrix of ``layer`` (a name, or a position) and ``matrix``."""
        if isinstance(layer, int) and not isinstance(layer, bool):
            if not 0 <= layer < len(self.layers):
                raise param_error("layer", "WeightSpectra", f"a position in [0, "
                                  f"{len(self.layers)})", layer)
            return layer
        for i, (name, mat) in enumerate(zip(self.layers, self.matrices)):
            if name == layer and (matrix is None or mat == matrix):
                return i
        known = ", ".join(repr(n) for n in dict.fromkeys(self.layers))
        raise param_error("layer", "WeightSpectra", f"one of {{{known}}}", layer)

    def to_frame(self):
        """One row per matrix: shape, ``alpha``, ``alpha_hat``, ``D``, ``xmin``, norms, MP
        and randomisation columns (NaN where not computed), ``note`` (why alpha is NaN,
        depthwise) and ``aliases`` (tied names, comma-separated)."""
        import pandas as pd

        rows = []
        nan = float("nan")
        for i in range(len(self.layers)):
            fit, mp = self.power_law[i], self.marchenko_pastur[i]
            rmp, met = self.random_marchenko_pastur[i], self.metrics[i]
            rows.append({
                "layer": self.layers[i], "matrix": self.matrices[i], "kind": self.kinds[i],
                "N": self.N[i], "M": self.M[i], "n_slices": self.n_slices[i],
                "q": self.N[i] / self.M[i], "n_evals": len(self.eigenvalues[i]),
                "lambda_max": met["lambda_max"], "alpha": fit.alpha,
                "alpha_hat": met["alpha_hat"], "D": fit.D, "xmin": fit.xmin,
                "n_tail": fit.n_tail, "sigma": fit.sigma, "stable_rank": met["stable_rank"],
                "log_norm": met["log_norm"], "log_spectral_norm": met["log_spectral_norm"],
                "log_alpha_norm": met["log_alpha_norm"],
                "n_spikes": mp.n_spikes if mp else -1,
                "mp_softrank": mp.mp_softrank if mp else nan,
                "bulk_variance": mp.bulk_variance if mp else nan,
                "bulk_max": mp.bulk_max if mp else nan,
                "rand_lambda_max": met.get("rand_lambda_max", nan),
                "rand_distance": met.get("rand_distance", nan),
                "n_traps": rmp.n_spikes if rmp else -1,
                "note": self.notes[i] if self.notes else "",
                "aliases": ",".join(self.aliases[i]) if self.aliases else "",
            })
        return pd.DataFrame(rows, columns=list(_COLUMNS))
