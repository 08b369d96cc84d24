"""Output margins and the norm- and margin-based measures of Jiang et al. (2020).

Papers: Bartlett, Foster & Telgarsky (2017), arXiv 1706.08498; Neyshabur, Bhojanapalli,
McAllester & Srebro (2018), arXiv 1707.09564; Jiang, Neyshabur, Mobahi, Krishnan & Bengio
(2020), "Fantastic generalization measures and where to find them", arXiv 1912.02178,
Appendix C (the definitions used here).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.errors import DeepscopeValueError, check_float, param_error
from deepscope.lenses._model import check_model
from deepscope.lenses.generalization._layers import as_batches
from deepscope.lenses.generalization.norms import (
    _call, _output_tensor, distance_from_init, frobenius, parameter_count, path_norm, spectral,
)
from deepscope.lenses.generalization.results import Margin, NormMeasures

__all__ = ["margin", "norm_measures"]


def _margins(out: torch.Tensor, y: torch.Tensor, func: str) -> torch.Tensor:
    out = out.detach().double()
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
        f = out.reshape(-1)
        sign = torch.where(y.reshape(-1) > 0, 1.0, -1.0).to(f)
        return sign * f
    if out.ndim != 2:
        raise DeepscopeValueError(f"The model given to {func} must output (batch, classes) "
                                  f"scores; it returned shape {tuple(out.shape)}.")
    y = y.reshape(-1).long()
    if y.numel() != out.shape[0] or y.min() < 0 or y.max() >= out.shape[1]:
        raise param_error("data", func, f"targets that are class indices in [0, {out.shape[1]})",
                          f"targets of shape {tuple(y.shape)}")
    true = out.gather(1, y[:, None])[:, 0]
    other = out.scatter(1, y[:, None], float("-inf")).max(dim=1).values
    return true - other


def margin(model: nn.Module, data: Any, *, quantile: float = 0.1) -> Margin:
    """Output margin ``f(x)_y - max_{j != y} f(x)_j`` of every sample and its quantile.

    Jiang et al. (2020) take ``gamma`` as the 10th percentile of the margins on the training
    set (robust to a few outliers). For a single output ``f(x)`` and labels in {0, 1} or
    {-1, 1}, the margin is ``s f(x)`` with ``s = +1`` for a positive label, ``-1`` otherwise.

    Args:
        model: A classifier returning ``(batch, classes)`` scores (or one score).
        data: An ``(inputs, targets)`` pair or an iterable of pairs; targets are class indices.
        quantile: The quantile in [0, 1] (0 gives the minimum margin).

    Returns:
        :class:`Margin` (``to_frame``: one row per sample).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> lin = nn.Linear(2, 2, bias=False)
        >>> with torch.no_grad():
        ...     _ = lin.weight.copy_(torch.eye(2))
        >>> x, y = torch.tensor([[3.0, 1.0], [0.0, 2.0]]), torch.tensor([0, 1])
        >>> margin(lin, (x, y), quantile=0.0).value
        2.0
    """
    func = "margin"
    check_model(model, func)
    q = check_float(quantile, "quantile", func, low=0.0, high=1.0)
    batches = as_batches(data, func)
    params = {n: p.detach() for n, p in model.named_parameters()}
    parts = []
    with torch.no_grad():
        for x, y in batches:
            dev = next(iter(params.values())).device if params else x.device
            out = _output_tensor(_call(model, params, x.to(dev)), func)
            parts.append(_margins(out, y.to(out.device), func).cpu())
    m = torch.cat(parts).numpy()
    return Margin(lens="generalization.margin", quantile=q, value=float(np.quantile(m, q)),
                  margins=m, fraction_negative=float(np.mean(m < 0)))


def norm_measures(model: nn.Module, data: Any, *, init_model: nn.Module | None = None,
                  quantile: float = 0.1) -> NormMeasures:
    """Every norm- and margin-based measure of Jiang et al. (2020), Appendix C.

    With ``d`` weight layers ``W_i`` (Linear / Conv, kernels as ``(out, in * k)`` matrices),
    ``gamma`` the :func:`margin` quantile on ``data`` and ``W_i^0`` the initial weights:

    ====================================  ====================================================
    ``params``                             number of parameters ``omega``
    ``inverse_margin``                     ``1 / gamma^2``
    ``log_prod_of_spec``                   ``log prod_i ||W_i||_2^2``
    ``log_prod_of_spec_over_margin``       ``log(prod_i ||W_i||_2^2 / gamma^2)``
    ``log_sum_of_spec``                    ``log(d (prod_i ||W_i||_2^2)^(1/d))``
    ``log_sum_of_spec_over_margin``        ``log(d (prod_i ||W_i||_2^2 / gamma^2)^(1/d))``
    ``log_spec_orig_over_margin``          ``log(prod_i ||W_i||_2^2 / gamma^2 * sum_i ||W_i||_F^2 / ||W_i||_2^2)``
    ``log_spec_init_over_margin``          same with ``||W_i - W_i^0||_F^2`` in the sum (needs ``init_model``)
    ``fro_over_spec``                      ``sum_i ||W_i||_F^2 / ||W_i||_2^2``
    ``log_prod_of_fro``, ``log_sum_of_fro`` and their ``_over_margin``: as the spectral ones with ``||.||_F``
    ``param_norm``                         ``sum_i ||W_i||_F^2``
    ``frobenius_distance``                 ``sum_i ||W_i - W_i^0||_F^2`` (needs ``init_model``)
    ``dist_spec_init``                     ``sum_i ||W_i - W_i^0||_2^2`` (needs ``init_model``)
    ``log_path_norm``                      ``log sum f_{w^2}(1)`` (:func:`path_norm`, ``p=2``)
    ``log_path_norm_over_margin``          ``log(sum f_{w^2}(1) / gamma^2)``
    ====================================  ====================================================

    The factors common to all models of one data set (the sample size ``m``, ``log(1/delta)``)
    are left out, as they do not change a ranking. Every ``*_over_margin`` measure, the path
    norm and ``fro_over_spec`` are invariant under scaling one ReLU layer by ``c`` and the next
    by ``1/c`` (``spec_init`` when the initial model is scaled alike). The path-norm entries
    are NaN for nets with normalisation layers (no path form); the ``init`` entries are NaN
    without ``init_model``. A non-positive margin gives NaN for the ``over_margin`` entries.

    Args:
        model: A classifier.
        data: The training data (the margin is taken on it).
        init_model: The model at initialisation, for the distance-based measures.
        quantile: The margin quantile (Jiang et al.: 0.1).

    Returns:
        :class:`NormMeasures` (``to_frame``: one row per measure).
    """
    func = "norm_measures"
    check_model(model, func)
    mar = margin(model, data, quantile=quantile)
    batches = as_batches(data, func)
    spec = spectral(model)
    fro = frobenius(model)
    d = len(spec.layers)
    s2 = np.log(spec.norms.astype(float) ** 2)
    f2 = np.log(fro.norms.astype(float) ** 2)
    g = mar.value
    lg = math.log(g * g) if g > 0 else float("nan")
    nan = float("nan")
    v: dict[str, float] = {"params": float(parameter_count(model).total),
                           "inverse_margin": 1.0 / (g * g) if g > 0 else nan}
    v["log_prod_of_spec"] = float(s2.sum())
    v["log_prod_of_spec_over_margin"] = float(s2.sum()) - lg
    v["log_sum_of_spec"] = math.log(d) + float(s2.sum()) / d
    v["log_sum_of_spec_over_margin"] = math.log(d) + (float(s2.sum()) - lg) / d
    ratio = float(np.sum(fro.norms ** 2 / spec.norms ** 2))
    v["log_spec_orig_over_margin"] = float(s2.sum()) - lg + math.log(ratio)
    v["fro_over_spec"] = ratio
    v["log_prod_of_fro"] = float(f2.sum())
    v["log_prod_of_fro_over_margin"] = float(f2.sum()) - lg
    v["log_sum_of_fro"] = math.log(d) + float(f2.sum()) / d
    v["log_sum_of_fro_over_margin"] = math.log(d) + (float(f2.sum()) - lg) / d
    v["param_norm"] = float(np.sum(fro.norms ** 2))
    if init_model is not None:
        dist = distance_from_init(model, init_model)
        init_ratio = float(np.sum(dist.frobenius ** 2 / spec.norms ** 2))
        v["log_spec_init_over_margin"] = (float(s2.sum()) - lg + math.log(init_ratio)
                                          if init_ratio > 0 else nan)
        v["frobenius_distance"] = float(np.sum(dist.frobenius ** 2))
        v["dist_spec_init"] = float(np.sum(dist.spectral ** 2))
    else:
        v["log_spec_init_over_margin"] = v["frobenius_distance"] = v["dist_spec_init"] = nan
    try:
        pn = path_norm(model, tuple(batches[0][0].shape[1:]), p=2.0).value
        v["log_path_norm"] = math.log(pn) if pn > 0 else nan
    except DeepscopeValueError:
        v["log_path_norm"] = nan
    v["log_path_norm_over_margin"] = v["log_path_norm"] - lg
    n = sum(int(x.shape[0]) for x, _ in batches)
    return NormMeasures(lens="generalization.norm_measures", values=v, margin=g,
                        quantile=mar.quantile, depth=d, n_samples=n)
