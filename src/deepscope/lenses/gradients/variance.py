"""Gradient lens: how much the gradient tells about the target (Shalev-Shwartz et al. 2017).

Shalev-Shwartz, Shamir & Shammah (2017, arXiv 1703.07950, "Failures of Gradient-Based Deep
Learning") explain why gradient training cannot learn random parities: over a family
``H`` of target functions the gradient of the loss ``F_h(w)`` barely depends on which
``h`` is the target. Their Theorem 1 bounds the variance across targets,

.. math::

    \\mathrm{Var}(H, F, w) = \\mathbb{E}_h \\big\\| \\nabla F_h(w)
        - \\mathbb{E}_{h'} \\nabla F_{h'}(w) \\big\\|^2 \\le \\frac{G(w)^2}{|H|},

for any family of pairwise orthogonal targets (``E_x h h' = 0``), with
``G(w)^2 = E_x ||d p_w(x) / dw||^2`` for the square loss. For the ``2^d`` parities of ``d``
bits the gradient carries exponentially little information about the target.

* :func:`gradient_variance_across_targets` measures ``Var`` (and ``E_h ||grad F_h||^2``)
  for any model, loss and set of targets on given inputs.
* :func:`parity_gradient_variance` computes it **exactly** over all parities (or all
  parities of ``k`` bits) on all ``2^d`` inputs, via Walsh-Hadamard coefficients of the
  per-example gradients and Parseval.

Every function here is pure: parameters are used through :func:`torch.func.functional_call`
on detached copies; ``.grad``, ``.training`` and the state dict are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepscope.errors import DeepscopeValueError, check_int, param_error
from deepscope.lenses.gradients.functional import (
    FunctionalModel,
    parity_sums,
    target_gradient_moments,
)
from deepscope.lenses.gradients.snr import GradientSNR, gradient_snr  # noqa: F401  (re-exported)
from deepscope.lenses._model import (check_input_width, check_loss_fn, check_model,
                                      check_per_example)
from deepscope.lenses._result import Tidy
from deepscope.seeding import make_generator


#: Largest ``d`` for which :func:`parity_gradient_variance` enumerates all ``2^d`` inputs.
MAX_EXACT_D = 24


@dataclass(frozen=True, eq=False)
class GradientVariance(Tidy):
    """Variance of the loss gradient across a family of targets.

    ``to_frame()``: one row per parameter tensor plus a ``"total"`` row; ``tidy()``:
    ``layer, metric, value``.

    Attributes:
        variance: ``Var(H, F, w) = E_h ||grad F_h - E_h' grad F_h'||^2``.
        mean_sq_norm: ``E_h ||grad F_h(w)||^2``.
        mean_grad_sq_norm: ``||E_h grad F_h(w)||^2`` (so ``mean_sq_norm = variance +
            mean_grad_sq_norm``).
        n_targets: ``|H|``, the number of targets the expectations run over.
        layers: parameter names, in ``model.named_parameters()`` order.
        layer_variance: the variance restricted to each parameter tensor (they sum to
            ``variance``).
        layer_mean_sq_norm: ``E_h ||grad F_h||^2`` per parameter tensor.
        g_sq: for parity families, ``G^2 = E_x ||b(x)||^2`` where ``b(x)`` is the
            label-odd part of the per-example gradient (``= E_x ||d p_w(x)/dw||^2`` for the
            square loss ``(p - y)^2 / 2``); Theorem 1 gives ``variance <= g_sq / n_targets``.
            ``None`` for :func:`gradient_variance_across_targets`.
        layer_g_sq: ``g_sq`` per parameter tensor, or ``None``.
        method: ``"targets"``, ``"parity-exact"`` or ``"parity-sampled-inputs"``.
        params: the options that produced the result (with ``seed``).
        lens: ``"gradients.gradient_variance_across_targets"`` or
            ``"gradients.parity_gradient_variance"``.
    """

    _metrics = ("variance", "mean_sq_norm", "g_sq")

    variance: float
    mean_sq_norm: float
    mean_grad_sq_norm: float
    n_targets: int
    layers: tuple[str, ...]
    layer_variance: np.ndarray
    layer_mean_sq_norm: np.ndarray
    g_sq: float | None
    layer_g_sq: np.ndarray | None
    method: str
    params: dict
    lens: str = "gradients.gradient_variance_across_targets"

    @property
    def bound_ratio(self) -> float | None:
        """``variance * n_targets / g_sq`` (at most 1 by Theorem 1), or ``None``."""
        if self.g_sq is None:
            return None
        return float(self.variance * self.n_targets / self.g_sq) if self.g_sq > 0 else 0.0

    def to_frame(self):
        """One row per parameter tensor and a ``"total"`` row: ``layer, variance,
        mean_sq_norm`` (+ ``g_sq`` for parity families), ``n_targets, method``."""
        import pandas as pd

        cols = {"layer": [*self.layers, "total"],
                "variance": [*map(float, self.layer_variance), float(self.variance)],
                "mean_sq_norm": [*map(float, self.layer_mean_sq_norm),
                                 float(self.mean_sq_norm)]}
        if self.layer_g_sq is not None:
            cols["g_sq"] = [*map(float, self.layer_g_sq), float(self.g_sq)]
        frame = pd.DataFrame(cols)
        frame["n_targets"] = self.n_targets
        frame["method"] = self.method
        return frame


def _layer_sums(values: torch.Tensor, sizes: list[int]) -> np.ndarray:
    return np.array([float(part.sum()) for part in torch.split(values, sizes)])


def _check_model(model: Any, loss_fn: Any, func: str) -> FunctionalModel:
    check_model(model, func)
    check_loss_fn(loss_fn, func)
    fm = FunctionalModel(model)
    if fm.n_params == 0:
        raise param_error("model", func, "a module with trainable parameters",
                          type(model).__name__)
    return fm


def gradient_variance_across_targets(model: torch.nn.Module, loss_fn: Callable,
                                     x: torch.Tensor, targets: torch.Tensor, *,
                                     chunk_size: int | None = None) -> GradientVariance:
    """Variance of the full-batch loss gradient across target functions (Theorem 1).

    For each target ``h`` (a row of ``targets``: the labels of ``h`` on ``x``) let
    ``F_h(w) = loss_fn(model(x), targets[h])``. Then

    .. math::

        \\mathrm{Var} = \\frac{1}{|H|}\\sum_h \\big\\|\\nabla F_h(w) - \\bar g\\big\\|^2,
        \\qquad \\bar g = \\frac{1}{|H|}\\sum_h \\nabla F_h(w)

    (Shalev-Shwartz, Shamir & Shammah 2017, arXiv 1703.07950). The given targets are the
    family: if they are a uniform sample of a larger family, ``variance * n / (n - 1)`` is
    the unbiased estimate. The model runs forward once; each target's gradient is a
    vector-Jacobian product (:func:`torch.func.vjp`) with that target's output cotangent,
    vmapped over chunks of targets; moments are merged in float64. ``loss_fn`` must be
    written with torch operations that :func:`torch.func.vmap` supports.

    Args:
        model: the network; its parameters with ``requires_grad`` are differentiated.
        loss_fn: ``loss_fn(outputs, labels) -> scalar`` on a batch (e.g.
            :func:`torch.nn.functional.cross_entropy`).
        x: ``(n, ...)`` inputs, on the model's device.
        targets: ``(n_targets, n, ...)`` labels of every target function on ``x``.
        chunk_size: targets per vectorised chunk (default: fit a 256 MiB budget).

    Returns:
        A :class:`GradientVariance` with ``method="targets"``.

    Raises:
        DeepscopeTypeError: ``model``, ``loss_fn``, ``x`` or ``targets`` of the wrong type.
        DeepscopeValueError: ``targets`` not ``(n_targets, n, ...)`` for ``n = len(x)``,
            or a bad ``chunk_size``.

    Example:
        >>> import torch
        >>> net = torch.nn.Linear(3, 1)
        >>> x = torch.randn(8, 3)
        >>> ys = torch.randn(5, 8, 1)
        >>> res = gradient_variance_across_targets(net, torch.nn.functional.mse_loss, x, ys)
        >>> res.n_targets
        5
    """
    func = "gradient_variance_across_targets"
    fm = _check_model(model, loss_fn, func)
    for name, value in (("x", x), ("targets", targets)):
        if not isinstance(value, torch.Tensor):
            raise param_error(name, func, "a torch.Tensor", type(value).__name__,
                              type_error=True)
    if x.ndim < 1 or x.shape[0] < 1:
        raise param_error("x", func, "a tensor (n, ...) with n >= 1", tuple(x.shape))
    if targets.ndim < 2 or targets.shape[1] != x.shape[0] or targets.shape[0] < 1:
        raise param_error("targets", func, f"a tensor (n_targets, n, ...) with n = len(x) = "
                          f"{x.shape[0]} and n_targets >= 1", f"shape {tuple(targets.shape)}")
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size", func, low=1)
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise DeepscopeValueError(f"Values of 'x' in {func} contain NaN or inf.")
    x = x.to(fm.device)
    mom = target_gradient_moments(fm, loss_fn, x, targets.to(fm.device), chunk_size)
    h = mom.count
    layer_var = _layer_sums(mom.m2 / h, fm.sizes)
    layer_sq = _layer_sums(mom.sq / h, fm.sizes)
    return GradientVariance(
        variance=float(layer_var.sum()), mean_sq_norm=float(layer_sq.sum()),
        mean_grad_sq_norm=float((mom.mean ** 2).sum()), n_targets=h, layers=fm.names,
        layer_variance=layer_var, layer_mean_sq_norm=layer_sq, g_sq=None, layer_g_sq=None,
        method="targets", params={"chunk_size": chunk_size, "n": int(x.shape[0])})


def parity_gradient_variance(model: torch.nn.Module, loss_fn: Callable, d: int, *,
                             subsets: str | int = "all", batch_size: int = 4096,
                             n_inputs: int | None = None, seed: int | torch.Generator = 0
                             ) -> GradientVariance:
    """Exact gradient variance across parities ``chi_S(x) = prod_{i in S} x_i`` of d bits.

    ``x`` is uniform on ``{+1, -1}^d``; the family is all ``2^d`` parities
    (``subsets="all"``) or the ``C(d, k)`` parities of ``k`` bits (``subsets=k``). For a
    label ``y = +-1`` every loss is affine in ``y``,
    ``l(p, y) = (l(p,1) + l(p,-1))/2 + y (l(p,1) - l(p,-1))/2``, so the per-example gradient
    is ``a(x) + y b(x)`` and the gradient for target ``chi_S`` is

    .. math::

        \\nabla F_S(w) = A + \\hat b(S), \\qquad A = \\mathbb{E}_x a(x), \\qquad
        \\hat b(S) = \\mathbb{E}_x \\chi_S(x) b(x)

    (``hat b`` is the Walsh-Hadamard transform of ``b``). By Parseval,
    ``sum_S ||hat b(S)||^2 = E_x ||b(x)||^2`` and ``sum_S hat b(S) = b(1, ..., 1)``, so over
    all parities

    .. math::

        \\mathrm{Var} = 2^{-d}\\,\\mathbb{E}_x\\|b(x)\\|^2 - 4^{-d}\\,\\|b(\\mathbf 1)\\|^2
        \\le \\frac{G^2}{2^d}, \\qquad G^2 = \\mathbb{E}_x \\|b(x)\\|^2,

    which is Theorem 1 of Shalev-Shwartz, Shamir & Shammah (2017, arXiv 1703.07950). For
    ``k``-bit parities the level-``k`` energy ``sum_{|S|=k} ||hat b(S)||^2`` comes from a
    fast Walsh-Hadamard transform of the ``(2^d, P)`` per-example gradients
    (``O(2^d P d)``; memory chunked over parameters), and ``sum_{|S|=k} hat b(S)`` from the
    Krawtchouk weights ``e_k(x)``. Per-example gradients use ``vmap(grad)`` from
    :mod:`torch.func`; sums are float64.

    Args:
        model: a network taking ``(n, d)`` inputs in ``{+1, -1}`` (its dtype and device).
        loss_fn: ``loss_fn(outputs, labels) -> mean loss`` over the batch, where ``labels``
            is an ``(n,)`` tensor of ``+-1`` in the model's dtype (e.g. hinge
            ``lambda out, y: (1 - out.squeeze(-1) * y).clamp(min=0).mean()``). It must be
            the mean of per-example losses and supported by :func:`torch.func.vmap`.
        d: number of bits; at most 24 when all ``2^d`` inputs are enumerated.
        subsets: ``"all"`` or an int ``k`` in ``[0, d]``.
        batch_size: inputs per vectorised per-example-gradient chunk.
        n_inputs: if given (``subsets="all"`` only), ``E_x ||b||^2`` and ``A`` are averaged
            over this many uniformly sampled inputs instead of all ``2^d`` (for large
            ``d``; ``b(1)`` stays exact). The result is then an estimate.
        seed: seed of the sampled inputs (an int or a ``torch.Generator``).

    Returns:
        A :class:`GradientVariance` with ``g_sq`` set, ``n_targets = |H|`` and
        ``method="parity-exact"`` (or ``"parity-sampled-inputs"``).

    Raises:
        DeepscopeValueError / DeepscopeTypeError: bad ``d``, ``subsets``, ``batch_size``,
            ``n_inputs`` or ``seed``.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
        ...                           torch.nn.Linear(16, 1))
        >>> hinge = lambda out, y: (1 - out.squeeze(-1) * y).clamp(min=0).mean()
        >>> res = parity_gradient_variance(net, hinge, 8)
        >>> res.n_targets, res.bound_ratio <= 1
        (256, True)
    """
    func = "parity_gradient_variance"
    fm = _check_model(model, loss_fn, func)
    d = check_int(d, "d", func, low=1, high=MAX_EXACT_D if n_inputs is None else 4096)
    if isinstance(subsets, str):
        if subsets != "all":
            raise param_error("subsets", func, f"'all' or an int in [0, {d}]", subsets)
        k = None
    else:
        k = check_int(subsets, "subsets", func, low=0, high=d)
    batch_size = check_int(batch_size, "batch_size", func, low=1)
    check_per_example(model, func, "per-example gradients")
    check_input_width(model, d, func, dtype=fm.dtype, device=fm.device)
    gen, seed = make_generator(seed, "seed", func)
    inputs = None
    if n_inputs is not None:
        n_inputs = check_int(n_inputs, "n_inputs", func, low=1)
        if k is not None:
            raise param_error("n_inputs", func, "None when subsets is an int (sampled inputs "
                              "only for subsets='all')", n_inputs)
        bits = torch.randint(0, 2, (n_inputs, d), generator=gen)
        inputs = (1 - 2 * bits).to(device=fm.device, dtype=fm.dtype)
    sums = parity_sums(fm, loss_fn, d, k, batch_size, inputs)
    size = float(sums["size"])
    mean_b = sums["sum_b"] / size
    var_coord = sums["sum_b_sq"] / size - mean_b ** 2
    mean_g = sums["a_mean"] + mean_b
    sq_coord = var_coord + mean_g ** 2
    layer_var = _layer_sums(var_coord, fm.sizes)
    layer_sq = _layer_sums(sq_coord, fm.sizes)
    layer_g = _layer_sums(sums["b_sq"], fm.sizes)
    n_targets = 2 ** d if k is None else int(round(size))
    return GradientVariance(
        variance=float(layer_var.sum()), mean_sq_norm=float(layer_sq.sum()),
        mean_grad_sq_norm=float((mean_g ** 2).sum()), n_targets=n_targets, layers=fm.names,
        layer_variance=layer_var, layer_mean_sq_norm=layer_sq, g_sq=float(layer_g.sum()),
        layer_g_sq=layer_g,
        method="parity-exact" if inputs is None else "parity-sampled-inputs",
        params={"d": d, "subsets": subsets, "batch_size": batch_size, "n_inputs": n_inputs,
                "seed": seed}, lens="gradients.parity_gradient_variance")
