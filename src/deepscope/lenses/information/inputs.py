"""Input conversion and validation shared by the information lens."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from deepscope.lenses._tensors import as_tensor as _tensor
from deepscope.errors import (
    DeepscopeValueError,
    check_choice,
    check_float,
    check_int,
    param_error,
)
from deepscope.lenses.information import binning as _binning
from deepscope.lenses.information import kde as _kde
from deepscope.lenses.information import ksg as _ksg

MI_METHODS = ("plugin", "binning", "binning-width", "binning-adaptive", "kde", "ksg")
PLANE_METHODS = MI_METHODS[1:]
_BINNING = ("binning", "binning-width", "binning-adaptive")


def _check_finite(t: torch.Tensor, what: str) -> None:
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        bad = "NaN" if bool(torch.isnan(t).any()) else "inf"
        raise DeepscopeValueError(f"{what} contain {bad}.")


def _continuous(value: Any, name: str, func: str, what: str, lead: int = 1) -> torch.Tensor:
    """Float64 ``(S, N, w)`` from data of shape ``(N, ...)`` (lead=1) or ``(S, N, ...)``."""
    t = _tensor(value, name, func)
    if t.ndim < lead:
        shape = "(N, ...)" if lead == 1 else "(S, N, ...)"
        raise param_error(name, func, f"a tensor of shape {shape}", tuple(t.shape))
    _check_finite(t, what)
    t = t.to(torch.float64).reshape(*t.shape[:lead], math.prod(t.shape[lead:]))
    return t.unsqueeze(0) if lead == 1 else t


def _symbols(value: Any, name: str, func: str) -> torch.Tensor:
    """Discrete data as ``(1, N, w)`` (rows are symbols)."""
    t = _tensor(value, name, func)
    if t.ndim < 1:
        raise param_error(name, func, "a tensor of shape (N,) or (N, d)", tuple(t.shape))
    _check_finite(t, f"Values of {name!r} in {func}")
    return t.reshape(t.shape[0], math.prod(t.shape[1:])).unsqueeze(0)


def _labels(y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Dense labels ``(N,)`` in ``[0, K)`` for discrete rows ``y`` ``(1, N, w)``, and K."""
    code, _ = _binning.combine(*_binning.discrete_digits(y))
    labels = _binning.dense_rank(code)[0]
    return labels, int(labels.max()) + 1 if labels.numel() else 0


def _same_n(n: int, y_n: int, what: str) -> None:
    if n != y_n:
        raise DeepscopeValueError(f"{what} have {n} samples but y has {y_n}.")
    if n == 0:
        raise DeepscopeValueError(f"{what} hold no samples.")


def _options(func: str, method: str, choices: Sequence[str], bins: Any, range: Any,
             bin_width: Any, noise_variance: Any) -> dict:
    """Validate the estimator options; return the ones ``method`` uses (k is checked later)."""
    check_choice(method, "method", func, choices)
    check_int(bins, "bins", func, low=2, high=100000)
    ok = (isinstance(range, (tuple, list)) and len(range) == 2
          and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in range)
          and all(math.isfinite(v) for v in range) and range[0] < range[1])
    if not ok:
        raise param_error("range", func, "a pair (lo, hi) of finite floats with lo < hi", range)
    check_float(bin_width, "bin_width", func, low=0.0, closed="right")
    check_float(noise_variance, "noise_variance", func, low=0.0, closed="right")
    return {
        "binning": {"bins": int(bins), "range": (float(range[0]), float(range[1]))},
        "binning-width": {"bin_width": float(bin_width)},
        "binning-adaptive": {"bins": int(bins)},
        "kde": {"noise_variance": float(noise_variance)},
    }.get(method, {})


def _check_k(k: Any, n: int, labels: torch.Tensor | None, n_labels: int, func: str) -> int:
    k = check_int(k, "k", func, low=1, high=max(1, n - 1))
    if k >= n:
        raise param_error("k", func, f"an int in [1, {n - 1}] (fewer than the samples)", k)
    if labels is not None:
        smallest = int(torch.bincount(labels, minlength=n_labels).min())
        if smallest <= k:
            raise param_error("k", func, f"smaller than the smallest class ({smallest} samples)"
                              " for the discrete-continuous k-NN estimate of I(T;Y)", k)
    return k


def _bin(a: torch.Tensor, method: str, opts: dict) -> tuple[torch.Tensor, int]:
    low, high = opts.get("range", (0.0, 1.0))
    digits, radices = _binning.bin_digits(a, method, opts.get("bins", 2), low, high,
                                          opts.get("bin_width", 1.0))
    return _binning.combine(digits, radices)


def _h_y(labels: torch.Tensor) -> torch.Tensor:
    return _binning.entropy_counts(torch.bincount(labels))


def _plugin_i(h_t: torch.Tensor, h_y: torch.Tensor, h_ty: torch.Tensor) -> torch.Tensor:
    """``H(T) + H(Y) - H(T,Y)``, clipped to its exact range ``[0, min(H(T), H(Y))]``."""
    return torch.minimum((h_t + h_y - h_ty).clamp(min=0.0), torch.minimum(h_t, h_y))


def _plane_core(a: torch.Tensor, labels: torch.Tensor, n_labels: int, h_y: torch.Tensor,
                method: str, opts: dict, inputs: torch.Tensor | None) -> dict:
    """``I(X;T)``, ``I(T;Y)`` (float64 ``(S,)``, bits) for activations ``a`` ``(S, N, w)``."""
    if method in _BINNING:
        h_t, h_ty = _binning.joint_entropies(*_bin(a, method, opts), labels, n_labels)
        return {"i_xt": h_t, "i_ty": _plugin_i(h_t, h_y, h_ty)}
    if method == "kde":
        return _kde.kde_bounds(a, labels, n_labels, opts["noise_variance"])
    out = _ksg.knn_information(a, opts["k"], x=inputs, labels=labels, n_labels=n_labels)
    return {"i_xt": out["ksg"], "i_ty": out["ross"]}


def _prepare(func: str, y: Any, n: int, what: str, device: torch.device, method: str,
             k: Any, inputs: Any) -> tuple:
    """Labels, class count, H(Y), validated k and inputs for the plane functions."""
    yt = _tensor(y, "y", func)
    if yt.ndim == 2 and yt.shape[1] == 1:
        yt = yt[:, 0]
    if yt.ndim != 1:
        raise param_error("y", func, "a 1-D tensor of labels (N,)", tuple(yt.shape))
    _same_n(n, yt.shape[0], what)
    _check_finite(yt, f"Values of 'y' in {func}")
    labels, n_labels = _labels(yt.to(device).reshape(1, -1, 1))
    x = None
    if method == "ksg":
        k = _check_k(k, n, labels, n_labels, func)
        if inputs is None:
            raise param_error("inputs", func, "a tensor of shape (N, d) when method='ksg'", None)
        x = _continuous(inputs, "inputs", func, f"Values of 'inputs' in {func}").to(device)
        _same_n(x.shape[1], n, f"Values of 'inputs' in {func}")
    return labels, n_labels, _h_y(labels), k, x


