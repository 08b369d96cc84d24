"""Measured locality of receptive fields on a periodic ``L x L`` lattice."""

from __future__ import annotations

import numpy as np

__all__ = ["block_mass", "effective_block", "gyration_radius", "uniform_gyration_radius"]


def _mass(fields: np.ndarray) -> np.ndarray:
    """``(units, L, L)`` weights -> normalised squared-weight mass."""
    m = np.asarray(fields, dtype=np.float64) ** 2
    return m / np.maximum(m.sum((1, 2), keepdims=True), 1e-300)


def gyration_radius(fields: np.ndarray) -> np.ndarray:
    """Radius of gyration of each unit's squared-weight mass on the torus (lattice spacings).

    The centre on each axis is the circular mean; distances use the minimum image.
    """
    p = _mass(fields)
    L = p.shape[-1]
    out = np.zeros(p.shape[0])
    coords = np.arange(L)
    for axis in (1, 2):
        marg = p.sum(3 - axis)  # (units, L): mass along this axis
        ang = 2 * np.pi * coords / L
        centre = np.angle((marg * np.exp(1j * ang)).sum(1)) * L / (2 * np.pi)
        d = (coords[None, :] - centre[:, None] + L / 2) % L - L / 2
        out += (marg * d ** 2).sum(1)
    return np.sqrt(out)


def uniform_gyration_radius(L: int, b: int | None = None) -> float:
    """Radius of gyration of uniform mass on a ``b x b`` block (the whole lattice if None)."""
    b = L if b is None else b
    if b == L:  # minimum-image distances on the whole ring: var = (L^2 - (L even)) / 12 approx
        d = (np.arange(L) + L / 2) % L - L / 2
        return float(np.sqrt(2 * (d ** 2).mean()))
    return float(np.sqrt(2 * (b * b - 1) / 12))


def _table(p: np.ndarray) -> np.ndarray:
    """Summed-area table of the periodically doubled mass, with a zero first row/column."""
    big = np.concatenate([p, p], 1)
    big = np.concatenate([big, big], 2)
    t = np.zeros((p.shape[0], big.shape[1] + 1, big.shape[2] + 1))
    t[:, 1:, 1:] = big.cumsum(1).cumsum(2)
    return t


def _best_block(t: np.ndarray, L: int, b: int) -> np.ndarray:
    s = t[:, b:b + L, b:b + L] - t[:, :L, b:b + L] - t[:, b:b + L, :L] + t[:, :L, :L]
    return s.reshape(s.shape[0], -1).max(1)


def block_mass(fields: np.ndarray, b: int) -> np.ndarray:
    """Largest share of each unit's squared-weight mass inside any ``b x b`` periodic block."""
    p = _mass(fields)
    return _best_block(_table(p), p.shape[-1], b)


def effective_block(fields: np.ndarray, share: float = 0.5) -> np.ndarray:
    """Smallest ``b`` whose best ``b x b`` block holds ``share`` of each unit's mass."""
    p = _mass(fields)
    L = p.shape[-1]
    out = np.full(p.shape[0], L, dtype=np.int64)
    open_ = np.ones(p.shape[0], dtype=bool)
    table = _table(p)
    for b in range(1, L + 1):
        hit = open_ & (_best_block(table, L, b) >= share - 1e-12)
        out[hit] = b
        open_ &= ~hit
        if not open_.any():
            break
    return out
