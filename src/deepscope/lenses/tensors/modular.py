"""Exact grid tensors of a linear ConvAC modulo primes.

Every float weight is a dyadic rational ``a * 2^e``, so the grid tensor of a ConvAC in
linear space is a rational tensor whose denominators are powers of two. Evaluating the
circuit in the field ``Z/pZ`` (``p`` an odd prime) gives that rational tensor modulo ``p``
exactly. The rank of a matricization modulo ``p`` is at most its rank over the rationals,
and equal unless ``p`` divides every maximal non-zero minor: with two primes near ``2^25``
the larger of the two ranks is the rational rank except with negligible probability
(about ``(rank / p)^2``, below 1e-9 for ranks up to 1000 with ``p`` near ``2^25``). This
is the exact rank of the network's own float weights, whatever their conditioning (float64
singular values cannot resolve ranks whose singular values span more than ~13 decades).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["PRIMES", "convac_grid_mod_p", "to_mod_p"]

#: Primes below 2^25: a sum of up to 8192 products of two residues fits in int64, so a
#: 1x1 convolution is one integer matmul.
PRIMES = (33554393, 33554383)


def to_mod_p(x: np.ndarray, p: int) -> np.ndarray:
    """The exact residues modulo ``p`` of float values (each a dyadic rational)."""
    x = np.asarray(x, dtype=np.float64)
    mant, expo = np.frexp(x)                      # x = mant * 2^expo, |mant| in [0.5, 1)
    num = np.rint(mant * 2.0 ** 53).astype(np.int64)   # exact: x = num * 2^(expo - 53)
    out = np.mod(num, p)
    shifts = expo.astype(np.int64) - 53
    for s in np.unique(shifts):
        factor = pow(2, int(s), p) if s >= 0 else pow(pow(2, -int(s), p), p - 2, p)
        sel = shifts == s
        out[sel] = (out[sel] * factor) % p
    return out


def _mix(h: np.ndarray, w: np.ndarray, p: int) -> np.ndarray:
    """``h @ w.T`` modulo ``p`` (``w``: (out, in) or per position (P, out, in))."""
    if w.shape[-1] > 8192:
        raise ValueError("a mixing layer wider than 8192 channels overflows the modular path")
    if w.ndim == 2:
        return (h @ w.T) % p
    return np.einsum("bpi,pri->bpr", h, w) % p


def convac_grid_mod_p(model, templates: torch.Tensor, p: int, chunk_size: int = 4096,
                      output: int = 0) -> np.ndarray:
    """Flat ``M^N`` grid of a linear-space ConvAC, exactly modulo the prime ``p``."""
    rep = to_mod_p(model.representation.detach().double().cpu().numpy(), p)
    temps = to_mod_p(templates.detach().double().cpu().numpy(), p)
    leaf = _mix(temps, rep, p)                    # (M_templates, M)
    convs = [to_mod_p(w.detach().double().cpu().numpy(), p) for w in model.convs]
    out_w = to_mod_p(model.output.detach().double().cpu().numpy()[output:output + 1], p)
    m, n = templates.shape[0], model.tree.n_positions
    powers = m ** np.arange(n - 1, -1, -1)
    result = np.empty(m ** n, dtype=np.int64)
    chunk_size = max(chunk_size, 1 << 16)
    for start in range(0, m ** n, chunk_size):
        idx = np.arange(start, min(start + chunk_size, m ** n))
        h = leaf[(idx[:, None] // powers) % m]    # (B, N, M)
        if model.kind == "shallow":
            h = _mix(h, convs[0], p)
            acc = h[:, 0]
            for i in range(1, n):
                acc = (acc * h[:, i]) % p
            h = acc
        else:
            for w, (left, right) in zip(convs, model.tree.pairs):
                h = _mix(h, w, p)
                h = (h[:, np.asarray(left)] * h[:, np.asarray(right)]) % p
            h = h[:, 0]
        result[start:start + len(idx)] = _mix(h, out_w, p)[:, 0]
    return result
