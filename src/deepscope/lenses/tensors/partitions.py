"""Partitions (I, J) of the input positions, by name or by the positions of I."""

from __future__ import annotations

import math

import numpy as np
import torch

from deepscope.errors import param_error

__all__ = ["NAMED_PARTITIONS", "partition_indices"]

#: Named partitions: 1-D inputs take the first two; images all four.
NAMED_PARTITIONS = ("left-right", "odd-even", "top-bottom", "checkerboard")


def partition_indices(partition, shape: tuple[int, ...], func: str
                      ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(I, J)``: sorted positions (row-major) of each side; both non-empty.

    ``partition`` is a name (``"left-right"``: the left half of the positions or columns;
    ``"odd-even"``: every other position or column; ``"top-bottom"``: the upper rows;
    ``"checkerboard"``: pixels with ``row + col`` even), the positions of ``I``, or a
    boolean mask over the positions (True = ``I``).
    """
    n = math.prod(shape)
    if isinstance(partition, str):
        ok = NAMED_PARTITIONS if len(shape) == 2 else NAMED_PARTITIONS[:2]
        if partition not in ok:
            shown = ", ".join(repr(p) for p in ok)
            raise param_error("partition", func, f"one of {{{shown}}} or the positions of I",
                              partition)
        rows, cols = shape if len(shape) == 2 else (1, shape[0])
        r, c = np.divmod(np.arange(n), cols)
        mask = {"left-right": c < cols // 2, "odd-even": c % 2 == 0,
                "top-bottom": r < rows // 2, "checkerboard": (r + c) % 2 == 0}[partition]
    else:
        arr = partition.detach().cpu().numpy() if isinstance(partition, torch.Tensor) \
            else np.asarray(partition)
        if arr.dtype == bool and arr.size == n:
            mask = arr.reshape(-1)
        elif arr.ndim == 1 and arr.size and np.issubdtype(arr.dtype, np.integer) \
                and arr.min() >= 0 and arr.max() < n and len(set(arr.tolist())) == arr.size:
            mask = np.zeros(n, dtype=bool)
            mask[arr] = True
        else:
            raise param_error("partition", func, f"a name, distinct positions in [0, {n - 1}] "
                              f"or a boolean mask of {n} positions", partition)
    first = tuple(int(i) for i in np.flatnonzero(mask))
    second = tuple(int(i) for i in np.flatnonzero(~mask))
    if not first or not second:
        raise param_error("partition", func, "two non-empty sides", partition)
    return first, second
