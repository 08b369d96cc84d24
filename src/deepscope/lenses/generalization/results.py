"""Result types of the generalization lens (frozen dataclasses with ``to_frame`` / ``tidy``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "DistanceFromInit", "Frobenius", "GradientNoise", "Margin", "NormMeasures",
    "PacBayesFlatness", "ParameterCount", "PathNorm", "Spectral",
]


def _tidy(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["layer", "metric", "value"]).astype({"value": float})


@dataclass(frozen=True, eq=False)
class ParameterCount:
    """Number of parameters, in all and per module.

    Attributes:
        lens: ``"generalization.parameter_count"``.
        total: Every parameter (shared tensors counted once).
        trainable: Parameters with ``requires_grad``.
        layers: Names of the modules that own parameters directly.
        counts: Parameters owned by each of those modules.
    """

    lens: str
    total: int
    trainable: int
    layers: tuple[str, ...]
    counts: tuple[int, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row per module that owns parameters: ``layer, parameters``."""
        return pd.DataFrame({"layer": list(self.layers), "parameters": list(self.counts)})

    def tidy(self) -> pd.DataFrame:
        """Per-module counts, then ``total`` and ``trainable`` with an empty layer."""
        rows = [(n, "parameters", float(c)) for n, c in zip(self.layers, self.counts)]
        rows += [("", "total", float(self.total)), ("", "trainable", float(self.trainable))]
        return _tidy(rows)


class _NormTotals:
    """``product`` and ``sum`` of a result's per-layer ``norms``."""

    norms: np.ndarray

    @property
    def product(self) -> float:
        """``prod_i`` of the per-layer norms."""
        return float(np.prod(self.norms))

    @property
    def sum(self) -> float:
        """``sum_i`` of the per-layer norms."""
        return float(np.sum(self.norms))


@dataclass(frozen=True, eq=False)
class Frobenius(_NormTotals):
    """Frobenius norms of the weight layers.

    Attributes:
        lens: ``"generalization.frobenius"``.
        layers: Names of the Linear / Conv layers.
        norms: ``||W_i||_F`` of each (weights only, biases excluded).
    """

    lens: str
    layers: tuple[str, ...]
    norms: np.ndarray


    def to_frame(self) -> pd.DataFrame:
        """One row per layer: ``layer, frobenius``."""
        return pd.DataFrame({"layer": list(self.layers), "frobenius": self.norms})

    def tidy(self) -> pd.DataFrame:
        """Per-layer norms, then ``product`` and ``sum`` with an empty layer."""
        rows = [(n, "frobenius", float(v)) for n, v in zip(self.layers, self.norms)]
        return _tidy(rows + [("", "product", self.product), ("", "sum", self.sum)])


@dataclass(frozen=True, eq=False)
class Spectral(_NormTotals):
    """Largest singular values of the weight layers.

    Attributes:
        lens: ``"generalization.spectral"``.
        layers: Names of the Linear / Conv layers.
        kinds: ``"linear"``, ``"conv1d"`` or ``"conv2d"`` per layer.
        norms: ``sigma_max`` of the weight as an ``(out, in * kernel)`` matrix (Jiang et al.'s
            convention for convolutions).
        operator_norms: Operator norm of the layer as a map on its input (Sedghi et al. 2019 for
            convolutions, on the input size the layer sees; ``nan`` where no ``input_shape`` was
            given); equal to ``norms`` for Linear layers.
        exact: Per layer, whether ``operator_norms`` is exact (Linear, or a stride-1 convolution
            with circular padding) or an upper bound (zero padding or stride > 1).
        input_shape: The input shape (without batch) used for the operator norms, or ``None``.
    """

    lens: str
    layers: tuple[str, ...]
    kinds: tuple[str, ...]
    norms: np.ndarray
    operator_norms: np.ndarray
    exact: tuple[bool, ...]
    input_shape: tuple[int, ...] | None


    def to_frame(self) -> pd.DataFrame:
        """One row per layer: ``layer, kind, spectral, operator, exact``."""
        return pd.DataFrame({"layer": list(self.layers), "kind": list(self.kinds),
                             "spectral": self.norms, "operator": self.operator_norms,
                             "exact": list(self.exact)})

    def tidy(self) -> pd.DataFrame:
        """Per-layer ``spectral`` and ``operator`` norms, then ``product`` and ``sum``."""
        rows = []
        for n, s, o in zip(self.layers, self.norms, self.operator_norms):
            rows += [(n, "spectral", float(s)), (n, "operator", float(o))]
        return _tidy(rows + [("", "product", self.product), ("", "sum", self.sum)])


@dataclass(frozen=True, eq=False)
class PathNorm:
    """The ``l_p`` path norm of a ReLU network.

    Attributes:
        lens: ``"generalization.path_norm"``.
        p: The exponent.
        value: ``sum over input-output paths of prod |w|^p`` (Jiang et al.'s ``f_{w^p}(1)``
            summed over outputs; biases enter as paths starting at their unit).
        norm: ``value ** (1 / p)``.
        input_shape: Input shape (without batch) of the ones input.
    """

    lens: str
    p: float
    value: float
    norm: float
    input_shape: tuple[int, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row: ``p, path_sum, path_norm``."""
        return pd.DataFrame({"p": [self.p], "path_sum": [self.value], "path_norm": [self.norm]})

    def tidy(self) -> pd.DataFrame:
        """``path_sum`` and ``path_norm`` with an empty layer."""
        return _tidy([("", "path_sum", self.value), ("", "path_norm", self.norm)])


@dataclass(frozen=True, eq=False)
class DistanceFromInit:
    """How far each weight layer moved from its initial value.

    Attributes:
        lens: ``"generalization.distance_from_init"``.
        layers: Names of the Linear / Conv layers.
        frobenius: ``||W_i - W_i^0||_F``.
        spectral: ``sigma_max(W_i - W_i^0)`` (as ``(out, in * kernel)`` matrices).
        total: ``||theta - theta^0||_2`` over every parameter (biases and the rest included).
    """

    lens: str
    layers: tuple[str, ...]
    frobenius: np.ndarray
    spectral: np.ndarray
    total: float

    def to_frame(self) -> pd.DataFrame:
        """One row per layer: ``layer, frobenius, spectral``."""
        return pd.DataFrame({"layer": list(self.layers), "frobenius": self.frobenius,
                             "spectral": self.spectral})

    def tidy(self) -> pd.DataFrame:
        """Per-layer distances, then ``total``."""
        rows = []
        for n, f, s in zip(self.layers, self.frobenius, self.spectral):
            rows += [(n, "frobenius", float(f)), (n, "spectral", float(s))]
        return _tidy(rows + [("", "total", self.total)])


@dataclass(frozen=True, eq=False)
class Margin:
    """Output margins ``f(x)_y - max_{j != y} f(x)_j`` and their quantile.

    Attributes:
        lens: ``"generalization.margin"``.
        quantile: The quantile taken (Jiang et al.: 0.1).
        value: That quantile of the margins (``gamma``).
        margins: Margin of every sample, in data order.
        fraction_negative: Share of misclassified samples (margin < 0).
    """

    lens: str
    quantile: float
    value: float
    margins: np.ndarray
    fraction_negative: float

    def to_frame(self) -> pd.DataFrame:
        """One row per sample: ``sample, margin``."""
        return pd.DataFrame({"sample": np.arange(self.margins.size), "margin": self.margins})

    def tidy(self) -> pd.DataFrame:
        """``margin`` (the quantile), ``min``, ``median`` and ``fraction_negative``."""
        m = self.margins
        return _tidy([("", "margin", self.value), ("", "min", float(m.min())),
                      ("", "median", float(np.median(m))),
                      ("", "fraction_negative", self.fraction_negative)])


@dataclass(frozen=True, eq=False)
class NormMeasures:
    """The norm- and margin-based measures of Jiang et al. (2020), Appendix C.

    Attributes:
        lens: ``"generalization.norm_measures"``.
        values: Measure name -> value (see :func:`norm_measures` for the formulas).
        margin: The margin ``gamma`` used.
        quantile: Its quantile.
        depth: Number of weight layers ``d``.
        n_samples: Number of samples the margin was taken over.
    """

    lens: str
    values: dict = field(repr=False)
    margin: float
    quantile: float
    depth: int
    n_samples: int

    def to_frame(self) -> pd.DataFrame:
        """One row per measure: ``measure, value, margin_normalised``."""
        names = list(self.values)
        return pd.DataFrame({"measure": names, "value": [self.values[k] for k in names],
                             "margin_normalised": ["margin" in k for k in names]})

    def tidy(self) -> pd.DataFrame:
        """Every measure as a metric with an empty layer."""
        return _tidy([("", k, float(v)) for k, v in self.values.items()])


@dataclass(frozen=True, eq=False)
class PacBayesFlatness:
    """The largest perturbation scale whose expected loss increase stays under a target.

    Attributes:
        lens: ``"generalization.pac_bayes_flatness"``.
        sigma: ``sigma'`` (``scale="uniform"``) or ``alpha'`` (``scale="magnitude"``): the mean
            over repeats.
        spread: Standard deviation of ``sigma`` over the repeats (0 for one repeat).
        sigmas: The value found by each repeat (its own seeded noise draws).
        measure: ``1 / sigma**2`` (Jiang et al.'s pacbayes.flatness / pacbayes.mag.flatness).
        base_loss: The loss at the model.
        target_increase: The allowed increase of the expected loss.
        scale: ``"uniform"`` (``u ~ N(0, sigma^2 I)``) or ``"magnitude"``
            (``u_i ~ N(0, alpha^2 w_i^2 + epsilon^2)``).
        epsilon: The floor of the magnitude-aware noise.
        n_draws: Noise draws per repeat (the Monte Carlo sample of the expectation).
        steps: Bisection steps.
        complete: False if the search range was exhausted before the target was bracketed.
        seed: The seed of the noise.
    """

    lens: str
    sigma: float
    spread: float
    sigmas: np.ndarray
    measure: float
    base_loss: float
    target_increase: float
    scale: str
    epsilon: float
    n_draws: int
    steps: int
    complete: bool
    seed: int | None

    def to_frame(self) -> pd.DataFrame:
        """One row per repeat: ``repeat, sigma``."""
        return pd.DataFrame({"repeat": np.arange(self.sigmas.size), "sigma": self.sigmas})

    def tidy(self) -> pd.DataFrame:
        """``sigma``, ``spread``, ``measure`` and ``base_loss``."""
        return _tidy([("", "sigma", self.sigma), ("", "spread", self.spread),
                      ("", "measure", self.measure), ("", "base_loss", self.base_loss)])


@dataclass(frozen=True, eq=False)
class GradientNoise:
    """Variance of minibatch gradients around their mean.

    Attributes:
        lens: ``"generalization.gradient_noise"``.
        variance: ``mean_b ||g_b - g||^2`` over the minibatches ``b`` (trace of the
            covariance of the minibatch gradient).
        mean_norm_sq: ``||g||^2``, the squared norm of the mean gradient.
        layers: Parameter names.
        layer_variance: The variance restricted to each parameter.
        n_batches: Minibatches used.
        batch_size: Their size (``None`` when the caller's batches were used as given).
        seed: Seed of the minibatch order (``None`` for the caller's batches).
    """

    lens: str
    variance: float
    mean_norm_sq: float
    layers: tuple[str, ...]
    layer_variance: np.ndarray
    n_batches: int
    batch_size: int | None
    seed: int | None

    @property
    def snr(self) -> float:
        """``||g||^2 / variance`` (inf when every minibatch gradient is the same)."""
        return float(self.mean_norm_sq / self.variance) if self.variance > 0 else float("inf")

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter: ``layer, variance``."""
        return pd.DataFrame({"layer": list(self.layers), "variance": self.layer_variance})

    def tidy(self) -> pd.DataFrame:
        """Per-parameter variance, then the totals."""
        rows = [(n, "variance", float(v)) for n, v in zip(self.layers, self.layer_variance)]
        return _tidy(rows + [("", "variance", self.variance),
                             ("", "mean_norm_sq", self.mean_norm_sq), ("", "snr", self.snr)])
