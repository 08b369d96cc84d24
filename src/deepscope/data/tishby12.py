"""The 12-bit data set of Shwartz-Ziv & Tishby (2017), rebuilt exactly.

Shwartz-Ziv & Tishby, "Opening the black box of deep neural networks via information",
arXiv 1703.00810, ship it as ``var_u.mat``: all 4096 binary inputs of 12 bits, labelled by a
spherically symmetric rule on the 12 vertices of an icosahedron. This module regenerates the
same table from the rule, so nothing is downloaded.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["ICOSAHEDRON_VERTICES", "tishby12"]

_G = (1.0 + math.sqrt(5.0)) / 2.0

#: The 12 vertices of the icosahedron, in the order that assigns them to bits 0..11
#: (bit 0 is the most significant bit of the row index), before scaling to unit length.
ICOSAHEDRON_VERTICES: tuple[tuple[float, float, float], ...] = (
    (0.0, -1.0, -_G),
    (-1.0, -_G, 0.0),
    (0.0, -1.0, _G),
    (1.0, -_G, 0.0),
    (-_G, 0.0, 1.0),
    (0.0, 1.0, -_G),
    (-1.0, _G, 0.0),
    (1.0, _G, 0.0),
    (_G, 0.0, 1.0),
    (0.0, 1.0, _G),
    (_G, 0.0, -1.0),
    (-_G, 0.0, -1.0),
)


def _table() -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(4096, dtype=np.int64)
    shifts = np.arange(11, -1, -1, dtype=np.int64)  # column 0 = most significant bit
    bits = ((index[:, None] >> shifts[None, :]) & 1).astype(np.float64)
    verts = np.asarray(ICOSAHEDRON_VERTICES, dtype=np.float64)
    verts /= np.linalg.norm(verts, axis=1, keepdims=True)
    k = bits.sum(axis=1)
    r2 = np.square(bits @ verts).sum(axis=1)
    y = (k >= 8) | ((k == 7) & (r2 > 0.5)) | ((k == 6) & (r2 > 2.5)) | ((k == 5) & (r2 > 7.0))
    return bits, y.astype(np.int64)


def tishby12(
    *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact 4096 x 12 binary data set of Shwartz-Ziv & Tishby (2017).

    Row ``i`` is the 12-bit binary expansion of ``i``, most significant bit in column 0.
    Bit ``j`` stands for vertex ``j`` of :data:`ICOSAHEDRON_VERTICES` scaled to unit
    length. With ``k`` the number of bits set and ``R2`` the squared norm of the sum of
    the unit vectors of the set bits, the label is 1 iff ``k >= 8``, or ``k == 7`` and
    ``R2 > 0.5``, or ``k == 6`` and ``R2 > 2.5``, or ``k == 5`` and ``R2 > 7``.

    The table has 2118 ones; the SHA-256 of the labels as uint8 bytes is
    ``77732f16f85e91b49d3997196b56163b3bd362d8cf631468a8de3f986e88359f``.

    Args:
        dtype: Floating dtype of the inputs (the inputs are exactly 0 or 1).
        device: Where to put both tensors.

    Returns:
        ``(X, y)``: inputs of shape (4096, 12) and int64 labels of shape (4096,).

    Example:
        >>> X, y = tishby12()
        >>> X.shape, int(y.sum())
        (torch.Size([4096, 12]), 2118)
    """
    bits, y = _table()
    return (
        torch.as_tensor(bits, dtype=dtype, device=device),
        torch.as_tensor(y, dtype=torch.int64, device=device),
    )
