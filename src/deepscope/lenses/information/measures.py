"""Entropies, mutual information and the information plane of a network's layers.

All results are in **bits**. Inputs may be torch tensors (CPU or CUDA; the work runs where
they live) or numpy arrays.

Estimators (``method``):

* ``"plugin"``: discrete symbols (each row of an array is one symbol, compared exactly),
  ``I = H(X) + H(Y) - H(X,Y)`` from empirical frequencies.
* ``"binning"``, ``"binning-width"``, ``"binning-adaptive"``: discretise continuous
  activations, then plug in (Shwartz-Ziv & Tishby 2017, arXiv 1703.00810; Saxe et al.
  2018, ICLR, "On the information bottleneck theory of deep learning"). Results depend
  strongly on the bin size; with fine bins ``I(X;T)`` saturates at ``log2 N``.
* ``"kde"``: pairwise-distance bounds on the entropy of the Gaussian mixture obtained by
  adding noise ``N(0, noise_variance I)`` to the activations (Kolchinsky & Tracey 2017,
  arXiv 1706.02419), as used by Saxe et al. 2018. The upper (KL) and lower
  (Bhattacharyya) estimates are returned; the value depends on the assumed noise.
* ``"ksg"``: Kraskov, Stögbauer & Grassberger (2004, arXiv cond-mat/0305641) k-NN
  estimator 1 for two continuous variables; for continuous T and discrete labels Y, Ross
  (2014, PLoS ONE 9(2): e87357). Ties (repeated rows, e.g. saturated units, or discrete
  inputs such as binary codes, whose max-norm distances are all 0 or 1) make k-NN
  estimates degenerate; add tiny noise if the data have many.

In the information plane the input X is uniform over the N samples (each sample its own
symbol), so for binning ``I(X;T) = H(T)``. Caveat: for a deterministic network and a
continuous input the true ``I(X;T)`` is infinite (or constant for invertible layers), so
every number here is a property of the estimator as much as of the network (Saxe et al.
2018; Goldfeld et al. 2019, ICML, arXiv 1810.05728). Compare estimates only within one
estimator and one parameter setting.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepscope.errors import (
    DeepscopeValueError,
    check_float,
    check_int,
    param_error,
)
from deepscope.lenses._result import Tidy
from deepscope.lenses._select import select_names
from deepscope.lenses.information import binning as _binning
from deepscope.lenses.information import kde as _kde
from deepscope.lenses.information import ksg as _ksg
from deepscope.lenses.information.inputs import (  # noqa: F401
    MI_METHODS,
    PLANE_METHODS,
    _BINNING,
    _tensor,
    _continuous,
    _symbols,
    _labels,
    _same_n,
    _options,
    _check_k,
    _bin,
    _h_y,
    _plugin_i,
    _plane_core,
    _prepare,
)


# ----------------------------------------------------------------------------- entropies


def entropy(codes: Any) -> float:
    """Plug-in Shannon entropy, in bits, of discrete symbols.

    .. math:: H = -\\sum_c \\hat p(c) \\log_2 \\hat p(c)

    Args:
        codes: ``(N,)`` or ``(N, d)`` tensor or array; each row is one symbol and rows are
            compared exactly (any dtype; floats are compared by value, ``-0.0 == 0.0``).

    Returns:
        The entropy of the empirical distribution of the rows, in ``[0, log2 N]``.

    Raises:
        DeepscopeTypeError: ``codes`` is not numeric.
        DeepscopeValueError: ``codes`` is empty or contains NaN/inf.

    Example:
        >>> entropy([0, 0, 1, 1])
        1.0
    """
    t = _symbols(codes, "codes", "entropy")
    if t.shape[1] == 0:
        raise DeepscopeValueError("Values of 'codes' in entropy hold no samples.")
    code, _ = _binning.combine(*_binning.discrete_digits(t))
    return float(_binning.entropy_sorted(torch.sort(code, dim=-1).values)[0])


def mutual_information(x: Any, y: Any, *, method: str = "plugin", bins: int = 30,
                       range: tuple[float, float] = (-1.0, 1.0), bin_width: float = 0.07,
                       noise_variance: float = 1e-3, k: int = 3) -> float:
    """Mutual information ``I(X;Y)`` in bits between paired samples.

    .. math:: I(X;Y) = H(X) + H(Y) - H(X, Y)

    Discretisation (the three binning methods; a sample's code is its row of indices):

    * ``binning``: ``bins`` equal-width bins over the fixed ``range = (lo, hi)``; index
      ``floor((a - lo) / (hi - lo) * bins)`` clamped to ``[0, bins - 1]``. Shwartz-Ziv &
      Tishby's code used ``np.linspace(-1, 1, 30)`` as 30 *edges* (29 interior bins, with
      values ``>= 1`` in a bin of their own); deepscope's ``bins`` counts bins.
    * ``binning-width``: index ``floor(a / bin_width)``, unbounded (Saxe et al. 2018 use
      0.07; suits unbounded ReLU activations).
    * ``binning-adaptive``: ``bins`` equal-width bins over the data's own ``[min, max]``
      (over all units and samples).

    Args:
        x: ``(N, ...)`` samples of X (trailing dims flattened). Discrete for ``plugin``,
            continuous for the others.
        y: ``(N, ...)`` samples of Y: discrete symbols (rows compared exactly), except for
            ``ksg`` where Y is continuous.
        method: ``"plugin"``, ``"binning"``, ``"binning-width"``, ``"binning-adaptive"``,
            ``"kde"`` (upper bound on ``I(T;Y)`` for ``x = T`` plus Gaussian noise of
            variance ``noise_variance``, Kolchinsky & Tracey 2017, arXiv 1706.02419; see
            :func:`mutual_information_bounds` for both bounds) or ``"ksg"`` (Kraskov et
            al. 2004 estimator 1, max-norm).
        bins: number of bins, for ``binning`` and ``binning-adaptive``.
        range: ``(lo, hi)`` for ``binning``.
        bin_width: bin width for ``binning-width``.
        noise_variance: Gaussian noise variance for ``kde``.
        k: neighbours for ``ksg``, ``1 <= k < N``.

    Returns:
        The estimate in bits.

    Raises:
        DeepscopeValueError: bad option, mismatched N, NaN/inf data, ``k >= N``.
        DeepscopeTypeError: non-numeric data or option of the wrong type.

    Example:
        >>> mutual_information([0, 0, 1, 1], [0, 0, 1, 1])
        1.0
    """
    func = "mutual_information"
    opts = _options(func, method, MI_METHODS, bins, range, bin_width, noise_variance)
    if method in ("plugin", "kde", *_BINNING):
        xs = (_symbols(x, "x", func) if method == "plugin"
              else _continuous(x, "x", func, f"Values of 'x' in {func}"))
        ys = _symbols(y, "y", func).to(xs.device)
        _same_n(xs.shape[1], ys.shape[1], f"Values of 'x' in {func}")
        labels, n_labels = _labels(ys)
        if method == "kde":
            return float(_kde.kde_bounds(xs, labels, n_labels, opts["noise_variance"])["i_ty"][0])
        if method == "plugin":
            code, bound = _binning.combine(*_binning.discrete_digits(xs))
        else:
            code, bound = _bin(xs, method, opts)
        h_x, h_xy = _binning.joint_entropies(code, bound, labels, n_labels)
        return float(_plugin_i(h_x, _h_y(labels), h_xy)[0])
    xs = _continuous(x, "x", func, f"Values of 'x' in {func}")
    ys = _continuous(y, "y", func, f"Values of 'y' in {func}").to(xs.device)
    _same_n(xs.shape[1], ys.shape[1], f"Values of 'x' in {func}")
    k = _check_k(k, xs.shape[1], None, 0, func)
    return float(_ksg.knn_information(ys, k, x=xs)["ksg"][0])


def mutual_information_bounds(t: Any, y: Any, *, noise_variance: float = 1e-3
                              ) -> tuple[float, float]:
    """Lower and upper pairwise-distance estimates of ``I(T;Y)`` in bits (``kde``).

    ``T`` is the activation ``t`` plus Gaussian noise ``N(0, noise_variance I)`` and Y a
    discrete label. Following Saxe et al. (2018), the same bound family is applied to
    ``H(T)`` and to every ``H(T | Y=y)``:

    .. math::

        \\hat I(T;Y) = -\\frac{1}{N}\\sum_i \\Big[\\ln \\frac{1}{N}\\sum_j K_{ij}
            - \\ln \\frac{1}{N_{y_i}}\\sum_{j: y_j = y_i} K_{ij}\\Big] / \\ln 2

    with :math:`K_{ij} = e^{-\\|t_i - t_j\\|^2 / (2\\sigma^2)}` (KL, upper) or
    :math:`e^{-\\|t_i - t_j\\|^2 / (8\\sigma^2)}` (Bhattacharyya, lower); Kolchinsky &
    Tracey (2017, arXiv 1706.02419). Strictly these bound the entropies; their difference
    is an estimate, not a guaranteed bracket.

    Args:
        t: ``(N, ...)`` continuous activations.
        y: ``(N,)`` or ``(N, d)`` discrete labels (rows compared exactly).
        noise_variance: variance of the added Gaussian noise.

    Returns:
        ``(lower, upper)`` in bits.

    Raises:
        DeepscopeValueError: bad ``noise_variance``, mismatched N, NaN/inf data.

    Example:
        >>> lo, hi = mutual_information_bounds([[-9.0], [-9.0], [9.0], [9.0]], [0, 0, 1, 1])
        >>> round(lo, 6), round(hi, 6)
        (1.0, 1.0)
    """
    func = "mutual_information_bounds"
    sigma2 = check_float(noise_variance, "noise_variance", func, low=0.0, closed="right")
    ts = _continuous(t, "t", func, f"Values of 't' in {func}")
    ys = _symbols(y, "y", func).to(ts.device)
    _same_n(ts.shape[1], ys.shape[1], f"Values of 't' in {func}")
    out = _kde.kde_bounds(ts, *_labels(ys), sigma2)
    return float(out["i_ty_lower"][0]), float(out["i_ty"][0])


# ----------------------------------------------------------------------------- planes


@dataclass(frozen=True, eq=False)
class InformationPlane(Tidy):
    """Coordinates of layers in the information plane, in bits.

    ``to_frame()``: one row per layer; ``tidy()``: ``layer, metric, value`` with metrics
    ``i_xt, i_ty`` (+ ``i_xt_lower, i_ty_lower`` for ``kde``).

    Attributes:
        layers: layer names, in order.
        i_xt: ``I(X;T)`` per layer (for ``kde`` the upper estimate).
        i_ty: ``I(T;Y)`` per layer (for ``kde`` the upper estimate).
        i_xt_lower: lower ``kde`` estimate of ``I(X;T)``, else ``None``.
        i_ty_lower: lower ``kde`` estimate of ``I(T;Y)``, else ``None``.
        h_y: plug-in entropy of the labels, the ceiling of ``I(T;Y)``.
        n_samples: number of samples N (``I(X;T) <= log2 N``).
        method: the estimator.
        params: the estimator parameters used.
        degenerate: per layer, whether the estimate is degenerate: every sample its own
            code, ``I(X;T) = log2 N`` (within 1e-6 bits), so the layer's position says
            nothing but "wide" (``None`` for results built without the check).
        lens: ``"information.information_plane"`` (``"information.binned"`` from
            :class:`BinnedInformation`).
    """

    _metrics = ("i_xt", "i_ty", "i_xt_lower", "i_ty_lower")

    layers: tuple[str, ...]
    i_xt: np.ndarray
    i_ty: np.ndarray
    i_xt_lower: np.ndarray | None
    i_ty_lower: np.ndarray | None
    h_y: float
    n_samples: int
    method: str
    params: dict
    degenerate: np.ndarray | None = None
    lens: str = "information.information_plane"

    def to_frame(self):
        """One row per layer: ``layer, i_xt, i_ty`` (+ ``i_xt_lower, i_ty_lower``), ``method``."""
        import pandas as pd

        cols: dict[str, Any] = {"layer": list(self.layers), "i_xt": self.i_xt, "i_ty": self.i_ty}
        if self.i_xt_lower is not None:
            cols["i_xt_lower"] = self.i_xt_lower
            cols["i_ty_lower"] = self.i_ty_lower
        cols["method"] = self.method
        if self.degenerate is not None:
            cols["degenerate"] = self.degenerate
        return pd.DataFrame(cols)


def _select_layers(activations: Any, layers: Any, func: str) -> list[tuple[str, Any]]:
    if not isinstance(activations, Mapping) and not hasattr(activations, "items"):
        raise param_error("activations", func, "a mapping of layer name -> tensor (N, ...)",
                          activations, type_error=True)
    names = list(activations.keys())
    chosen = select_names(names, layers, func)
    if not chosen:
        raise param_error("activations", func, "a non-empty mapping of layer name -> tensor",
                          activations)
    return [(name, activations[name]) for name in chosen]


def _reduce(value: Any, pool: bool, project: int | None, seed: int, name: str) -> Any:
    """Spatially pooled and/or randomly projected activations of one layer (N, ...)."""
    if not isinstance(value, torch.Tensor) or (not pool and project is None):
        return value
    t = value
    if pool and t.dim() > 2:
        t = t.flatten(2).mean(2)
    t = t.flatten(1)
    if project is not None and t.shape[1] > project:
        from deepscope.seeding import make_generator

        gen, _ = make_generator(seed, "seed", "information_plane")
        r = torch.randn(t.shape[1], project, generator=gen, dtype=torch.float64)
        t = (t.to(torch.float64) @ r.to(t.device)) / project ** 0.5
    return t


def _flag_degenerate(layers: Sequence[str], i_xt: np.ndarray, n: int) -> np.ndarray:
    flags = np.asarray(i_xt) >= np.log2(n) - 1e-6 if n > 1 else np.zeros(len(i_xt), bool)
    if flags.any():
        names = ", ".join(repr(name) for name, f in zip(layers, flags) if f)
        warnings.warn(f"information_plane: the estimate is degenerate for layers {names}: "
                      f"every one of the {n} samples has its own code, so I(X;T) = log2 N. "
                      "Use pool=True for conv maps, project=k (a seeded random projection), "
                      "fewer bins, or method='kde' with a larger noise_variance.",
                      stacklevel=3)
    return flags


def information_plane(activations: Mapping[str, Any], y: Any, *, method: str = "binning",
                      bins: int = 30, range: tuple[float, float] = (-1.0, 1.0),
                      bin_width: float = 0.07, noise_variance: float = 1e-3, k: int = 3,
                      inputs: Any = None, layers: Sequence[str] | None = None,
                      pool: bool = False, project: int | None = None, seed: int = 0
                      ) -> InformationPlane:
    """``I(X;T)`` and ``I(T;Y)`` of every layer T, X uniform over the N samples.

    Binning methods (discretisation as in :func:`mutual_information`):

    .. math:: I(X;T) = H(T), \\qquad I(T;Y) = H(T) - H(T \\mid Y)

    ``kde`` (Kolchinsky & Tracey 2017, arXiv 1706.02419; Saxe et al. 2018), with noise
    variance :math:`\\sigma^2`; the upper (KL) estimate is

    .. math:: I(X;T) \\le -\\frac{1}{N}\\sum_i \\log_2 \\frac{1}{N}\\sum_j
              e^{-\\|h_i - h_j\\|^2 / (2\\sigma^2)}

    and the lower (Bhattacharyya) one uses :math:`8\\sigma^2`; ``I(T;Y) = H(T) - \\sum_y
    p(y) H(T|Y=y)`` applies the same bound to both terms (see
    :func:`mutual_information_bounds`). The O(N²) kernel is processed in row chunks with
    a working-memory budget of 64 MiB (float64 accumulation), on the tensors' device.

    ``ksg``: ``I(X;T)`` by Kraskov et al. (2004) estimator 1 between ``inputs`` and T;
    ``I(T;Y)`` by Ross (2014, PLoS ONE 9(2): e87357) for discrete labels (every class
    needs more than ``k`` samples).

    For a deterministic net the true ``I(X;T)`` of a continuous X is infinite; these are
    estimator-dependent quantities (Saxe et al. 2018; Goldfeld et al. 2019, arXiv
    1810.05728).

    Args:
        activations: mapping layer name -> tensor ``(N, ...)`` (trailing dims flattened),
            e.g. what :func:`deepscope.activations` yields.
        y: ``(N,)`` labels.
        method: ``"binning"``, ``"binning-width"``, ``"binning-adaptive"``, ``"kde"`` or
            ``"ksg"``.
        bins: bins for ``binning`` and ``binning-adaptive`` (per layer, over its own
            ``[min, max]``).
        range: ``(lo, hi)`` for ``binning``.
        bin_width: width for ``binning-width``.
        noise_variance: noise variance for ``kde``.
        k: neighbours for ``ksg``.
        inputs: ``(N, d)`` network inputs, required by ``ksg``.
        layers: names or glob patterns (``"fc*"``) of the layers to measure, in order
            (default: all, in mapping order).
        pool: average conv maps ``(N, C, *spatial)`` over their spatial dims first (one
            value per channel): for conv layers, whose raw maps give every sample its own
            code.
        project: project each layer's ``(N, D)`` activations to ``project`` dimensions
            with a seeded Gaussian matrix (scaled by ``1/sqrt(project)``; distances are
            kept approximately, Johnson-Lindenstrauss) when ``D > project``: for wide
            dense layers. Binning then counts codes of ``project`` coordinates.
        seed: seed of the projection.

    Wide real layers make binning degenerate (each of the N samples its own code, so
    ``I(X;T) = log2 N``): the result's ``degenerate`` flags those layers and one warning
    names them. Then: ``pool=True`` for conv maps, ``project=k`` (k around 2-10) for
    wide dense layers, fewer bins, or ``method="kde"`` whose ``noise_variance`` sets the
    resolution at which samples count as distinct.

    Returns:
        An :class:`InformationPlane`.

    Raises:
        DeepscopeValueError: bad options or data (NaN/inf activations name the layer).
        DeepscopeTypeError: options or data of the wrong type.

    Example:
        >>> import torch
        >>> acts = {"fc1": torch.tensor([[0.1], [0.5], [0.1], [0.5]])}
        >>> plane = information_plane(acts, torch.tensor([0, 1, 0, 1]))
        >>> plane.i_xt.tolist(), plane.i_ty.tolist()
        ([1.0], [1.0])
    """
    func = "information_plane"
    opts = _options(func, method, PLANE_METHODS, bins, range, bin_width, noise_variance)
    if not isinstance(pool, bool):
        raise param_error("pool", func, "a bool", pool, type_error=True)
    if project is not None:
        project = check_int(project, "project", func, low=1)
    chosen = _select_layers(activations, layers, func)
    chosen = [(name, _reduce(v, pool, project, seed, name)) for name, v in chosen]
    first = _continuous(chosen[0][1], "activations", func,
                        f"Activations of layer {chosen[0][0]!r}")
    n, device = first.shape[1], first.device
    labels, n_labels, h_y, k, x = _prepare(func, y, n, f"Activations of layer {chosen[0][0]!r}",
                                           device, method, k, inputs)
    if method == "ksg":
        opts = {"k": k}
    rows = []
    for name, value in chosen:
        what = f"Activations of layer {name!r}"
        a = first if not rows else _continuous(value, "activations", func, what)
        _same_n(a.shape[1], n, what)
        rows.append(_plane_core(a.to(device), labels, n_labels, h_y, method, opts, x))
    cols = {key: np.array([float(r[key][0]) for r in rows]) for key in rows[0]}
    return InformationPlane(
        layers=tuple(name for name, _ in chosen), i_xt=cols["i_xt"], i_ty=cols["i_ty"],
        i_xt_lower=cols.get("i_xt_lower"), i_ty_lower=cols.get("i_ty_lower"),
        h_y=float(h_y), n_samples=n, method=method,
        params=opts if not (pool or project) else {**opts, "pool": pool, "project": project,
                                                   "seed": seed},
        degenerate=_flag_degenerate([name for name, _ in chosen], cols["i_xt"], n))


def information_plane_stacked(activations: Any, y: Any, *, method: str = "binning",
                              bins: int = 30, range: tuple[float, float] = (-1.0, 1.0),
                              bin_width: float = 0.07, noise_variance: float = 1e-3,
                              k: int = 3, inputs: Any = None, layer: str | None = None
                              ) -> StackedInformationPlane:
    """One layer's information-plane coordinates for S stacked seeds at once.

    The fast path for multi-seed training: vectorised over seeds (sort-based run-length
    counting for the binning methods, batched kernels for ``kde`` and ``ksg``). Per seed
    the numbers equal :func:`information_plane` on that seed's activations (exactly for
    the binning methods). Estimators and options as in :func:`information_plane`; for
    ``binning-adaptive`` each seed uses its own ``[min, max]``.

    Args:
        activations: ``(S, N, ...)`` one layer's activations for S seeds (trailing dims
            flattened).
        y: ``(N,)`` labels shared by all seeds.
        method, bins, range, bin_width, noise_variance, k: as in :func:`information_plane`.
        inputs: ``(N, d)`` network inputs shared by all seeds, required by ``ksg``.
        layer: the layer's name, used only in error messages.

    Returns:
        A :class:`StackedInformationPlane`: ``i_xt``, ``i_ty`` ``(S,)`` float64 tensors in
        bits on the activations' device, plus ``i_xt_lower`` and ``i_ty_lower`` for ``kde``.

    Raises:
        DeepscopeValueError: bad options or data.
        DeepscopeTypeError: options or data of the wrong type.

    Example:
        >>> import torch
        >>> acts = torch.tensor([[[0.1], [0.5], [0.1], [0.5]], [[0.1], [0.1], [0.1], [0.1]]])
        >>> out = information_plane_stacked(acts, torch.tensor([0, 1, 0, 1]))
        >>> out.i_xt.tolist(), out.i_ty.tolist()
        ([1.0, 0.0], [1.0, 0.0])
    """
    func = "information_plane_stacked"
    opts = _options(func, method, PLANE_METHODS, bins, range, bin_width, noise_variance)
    what = "Activations" if layer is None else f"Activations of layer {layer!r}"
    a = _continuous(activations, "activations", func, what, lead=2)
    labels, n_labels, h_y, k, x = _prepare(func, y, a.shape[1], what, a.device, method, k,
                                           inputs)
    if method == "ksg":
        opts = {"k": k}
    out = _plane_core(a, labels, n_labels, h_y, method, opts, x)
    return StackedInformationPlane(
        layer="" if layer is None else str(layer), i_xt=out["i_xt"], i_ty=out["i_ty"],
        i_xt_lower=out.get("i_xt_lower"), i_ty_lower=out.get("i_ty_lower"),
        h_y=float(h_y), n_samples=int(a.shape[1]), method=method, params=dict(opts))


@dataclass(frozen=True, eq=False)
class StackedInformationPlane(Tidy):
    """One layer's information-plane coordinates for S stacked seeds, in bits.

    ``to_frame()``: one row per stacked seed (``index`` 0..S-1); ``tidy()``: ``layer,
    index, metric, value``.

    Attributes:
        layer: the layer's name (``""`` when not given).
        i_xt, i_ty: ``(S,)`` float64 tensors on the activations' device.
        i_xt_lower, i_ty_lower: the lower ``kde`` estimates, else ``None``.
        h_y: plug-in entropy of the labels.
        n_samples: N.
        method: the estimator.
        params: the estimator parameters used.
        lens: ``"information.information_plane_stacked"``.
    """

    _metrics = ("i_xt", "i_ty", "i_xt_lower", "i_ty_lower")
    _keys = ("index",)

    layer: str
    i_xt: torch.Tensor
    i_ty: torch.Tensor
    i_xt_lower: torch.Tensor | None
    i_ty_lower: torch.Tensor | None
    h_y: float
    n_samples: int
    method: str
    params: dict
    lens: str = "information.information_plane_stacked"

    def measures(self) -> dict[str, torch.Tensor]:
        """``{metric: (S,) tensor}`` of the metrics computed (the lower bounds for kde)."""
        return {m: getattr(self, m) for m in self._metrics if getattr(self, m) is not None}

    def to_frame(self):
        """One row per stacked seed: ``layer, index, i_xt, i_ty`` (+ lower bounds)."""
        import pandas as pd

        cols: dict[str, Any] = {"layer": self.layer, "index": np.arange(len(self.i_xt))}
        cols.update({m: v.detach().cpu().numpy() for m, v in self.measures().items()})
        return pd.DataFrame(cols)


# ----------------------------------------------------------------------------- streaming


class BinnedInformation:
    """Streaming binned information plane: bin counts merged over batches.

    ``update`` bins each batch and adds its (layer code, label) counts to a table of
    distinct rows (exact, at most one row per distinct code); ``compute`` gives the same
    :class:`InformationPlane` as :func:`information_plane` on all batches at once (up to
    float rounding). ``binning-adaptive`` is refused: its bins depend on the min and max
    of the whole data set, which a stream does not know in advance.

    Args:
        method: ``"binning"`` or ``"binning-width"``.
        bins: bins for ``binning``.
        range: ``(lo, hi)`` for ``binning``.
        bin_width: width for ``binning-width``.
        layers: names or glob patterns of the layers to measure, in order (default: all
            layers of the first batch).

    Raises:
        DeepscopeValueError: bad options; later, batches that do not match the first.

    Example:
        >>> import torch
        >>> acc = BinnedInformation(bins=2)
        >>> acc.update({"fc1": torch.tensor([[-0.5], [0.5]])}, torch.tensor([0, 1]))
        >>> acc.update({"fc1": torch.tensor([[-0.5], [0.5]])}, torch.tensor([0, 1]))
        >>> acc.compute().i_ty.tolist()
        [1.0]
    """

    def __init__(self, *, method: str = "binning", bins: int = 30,
                 range: tuple[float, float] = (-1.0, 1.0), bin_width: float = 0.07,
                 layers: Sequence[str] | None = None) -> None:
        func = "BinnedInformation"
        if method == "binning-adaptive":
            raise param_error("method", func, "one of {'binning', 'binning-width'} "
                              "('binning-adaptive' needs the min and max of all the data "
                              "at once, so it cannot be streamed)", method)
        self.method = method
        self.params = _options(func, method, _BINNING[:2], bins, range, bin_width, 1.0)
        if isinstance(layers, str):
            layers = [layers]
        if layers is not None and not all(isinstance(name, str) for name in layers):
            raise param_error("layers", func, "layer names or glob patterns, or None", layers)
        self._layers = None if layers is None else tuple(layers)
        self.reset()

    def reset(self) -> None:
        """Forget all counts."""
        self._tables: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._label_table: tuple[torch.Tensor, torch.Tensor] | None = None
        self.n_samples = 0

    def update(self, activations: Mapping[str, Any], y: Any) -> None:
        """Add a batch: ``activations`` maps layer name -> ``(B, ...)``, ``y`` is ``(B,)`` ints."""
        func = "BinnedInformation.update"
        chosen = _select_layers(activations, self._layers, func)
        yt = _tensor(y, "y", func)
        if yt.ndim != 1 or yt.is_floating_point():
            raise param_error("y", func, "a 1-D tensor of integer labels (B,)", tuple(yt.shape))
        yt = yt.to(torch.int64)
        rows = {}
        for name, value in chosen:
            what = f"Activations of layer {name!r}"
            a = _continuous(value, "activations", func, what)
            _same_n(a.shape[1], yt.shape[0], what)
            rows[name] = torch.cat([self._digits(a, what)[0], yt.to(a.device)[:, None]], 1)
            if name in self._tables and self._tables[name][0].shape[1] != rows[name].shape[1]:
                raise DeepscopeValueError(f"{what} have {rows[name].shape[1] - 1} units in "
                                          f"this batch but {self._tables[name][0].shape[1] - 1}"
                                          " before.")
        for name, batch in rows.items():
            keys, counts = self._tables.get(name, (None, None))
            if keys is not None:
                batch = batch.to(keys.device)
            self._tables[name] = _binning.merge_counts(keys, counts, batch)
        keys, counts = self._label_table or (None, None)
        self._label_table = _binning.merge_counts(
            keys, counts, yt[:, None].to(keys.device if keys is not None else yt.device))
        self.n_samples += int(yt.shape[0])
        self._layers = tuple(name for name, _ in chosen)

    def _digits(self, a: torch.Tensor, what: str) -> torch.Tensor:
        if self.method == "binning":
            low, high = self.params["range"]
            return _binning.bin_digits(a, "binning", self.params["bins"], low, high, 1.0)[0]
        idx = torch.floor(a / self.params["bin_width"])
        if bool((idx.abs() >= 2.0**62).any()):
            raise DeepscopeValueError(f"{what} reach |a / bin_width| >= 2**62; "
                                      "use a larger bin_width.")
        return idx.to(torch.int64)

    def compute(self) -> InformationPlane:
        """The information plane of everything seen so far."""
        if self._label_table is None:
            raise DeepscopeValueError("BinnedInformation.compute was called before any update.")
        h_y = _binning.entropy_counts(self._label_table[1])
        i_xt, i_ty = [], []
        for name in self._layers:
            keys, counts = self._tables[name]
            h_t = _binning.entropy_counts(_binning.marginal_counts(keys, counts, slice(0, -1)))
            h_ty = _binning.entropy_counts(counts)
            i_xt.append(float(h_t))
            i_ty.append(float(_plugin_i(h_t, h_y, h_ty)))
        return InformationPlane(
            layers=self._layers, i_xt=np.array(i_xt), i_ty=np.array(i_ty), i_xt_lower=None,
            i_ty_lower=None, h_y=float(h_y), n_samples=self.n_samples, method=self.method,
            params=dict(self.params), lens="information.binned")
