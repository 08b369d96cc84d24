"""Turning a lens's array arguments into tensors, the same way in every family."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepscope.errors import DeepscopeValueError, param_error

__all__ = ["as_tensor"]


def as_tensor(value: Any, name: str, func: str, *, dtype: torch.dtype | None = None,
              device: torch.device | None = None, finite: bool = False,
              allow_bool: bool = True) -> torch.Tensor:
    """A detached tensor from a tensor, numpy array or nested list of real numbers.

    A tensor keeps its device (and dtype, unless ``dtype`` is given); anything else is
    copied to the CPU. ``device`` moves the result; ``finite`` refuses NaN/inf;
    ``allow_bool=False`` refuses booleans.

    Raises:
        DeepscopeTypeError: non-numeric, complex or quantized values (booleans without
            ``allow_bool``).
        DeepscopeValueError: NaN or inf with ``finite``.

    Example:
        >>> as_tensor([[1, 2]], "x", "f", dtype=torch.float64)
        tensor([[1., 2.]], dtype=torch.float64)
    """
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):
            arr = np.asarray(None)
        if arr.dtype.kind not in "biuf":
            raise param_error(name, func, "a tensor or array of real numbers",
                              type(value).__name__, type_error=True)
        t = torch.from_numpy(np.array(arr, copy=True))
    if (t.is_complex() or t.is_quantized or t.dtype in (torch.quint8, torch.qint8, torch.qint32)
            or (not allow_bool and t.dtype == torch.bool)):
        raise param_error(name, func, "a real tensor", t.dtype, type_error=True)
    if dtype is not None or device is not None:
        t = t.to(device=device if device is not None else t.device,
                 dtype=dtype if dtype is not None else t.dtype)
    if finite and t.is_floating_point() and not bool(torch.isfinite(t).all()):
        raise DeepscopeValueError(f"Values of {name!r} in {func} contain NaN or inf.")
    return t
