"""Input checks shared by the representation measures (private)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepscope.errors import DeepscopeValueError, param_error

__all__ = ["as_matrix", "as_pair"]


def as_matrix(x: Any, name: str, func: str, *, min_rows: int = 2,
              dtype: torch.dtype | None = None) -> torch.Tensor:
    """``x`` as a 2-D floating tensor ``(n, features)``; more dimensions are flattened.

    Accepts a tensor or an array. Integer input becomes float64; a floating tensor keeps its
    dtype unless ``dtype`` is given. Rows are examples.
    """
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise param_error(name, func, "a tensor or array of shape (n, ...)", type(x).__name__,
                          type_error=True)
    if x.ndim < 1:
        raise param_error(name, func, "a tensor of shape (n, ...)", f"a {x.ndim}-D tensor")
    x = x.detach()
    if x.ndim == 1:
        x = x[:, None]
    elif x.ndim > 2:
        x = x.reshape(x.shape[0], -1)
    if dtype is not None:
        x = x.to(dtype)
    elif not x.is_floating_point():
        x = x.to(torch.float64)
    if x.shape[0] < min_rows:
        raise param_error(name, func, f"a tensor with at least {min_rows} rows (examples)",
                          f"{x.shape[0]} row(s)")
    if x.shape[1] < 1:
        raise param_error(name, func, "a tensor with at least one feature", tuple(x.shape))
    if not torch.isfinite(x).all():
        raise DeepscopeValueError(f"The {name!r} parameter of {func} contains NaN or inf.")
    return x


def as_pair(x: Any, y: Any, func: str, *, min_rows: int = 2,
            dtype: torch.dtype | None = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Two representations of the same ``n`` examples, on ``x``'s device."""
    x = as_matrix(x, "x", func, min_rows=min_rows, dtype=dtype)
    y = as_matrix(y, "y", func, min_rows=min_rows, dtype=dtype)
    if x.shape[0] != y.shape[0]:
        raise param_error("y", func, f"a tensor with as many rows as x ({x.shape[0]})",
                          f"{y.shape[0]} rows")
    return x, y.to(x.device)
