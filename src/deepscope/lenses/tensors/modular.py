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


def convac_grid_mod_p(model, templates: torch.Tensor, p: int, output: int = 0) -> np.ndarray:
    """Flat ``M^N`` grid of a linear-space ConvAC, exactly modulo the prime ``p``."""
    from deepscope.lenses.tensors.contraction import contract, mod_ops

    for w in model.convs:
        if w.shape[-1] > 8192:
            raise ValueError("a mixing layer wider than 8192 channels overflows int64 here")
    mix, outer = mod_ops(p)
    rep = to_mod_p(model.representation.detach().double().cpu().numpy(), p)
    temps = to_mod_p(templates.detach().double().cpu().numpy(), p)
    leaf = mix(temps, rep)                        # (M_templates, M)
    convs = [to_mod_p(w.detach().double().cpu().numpy(), p) for w in model.convs]
    out_w = to_mod_p(model.output.detach().double().cpu().numpy()[output], p)
    return contract(model, leaf, convs, out_w, mix, outer)
