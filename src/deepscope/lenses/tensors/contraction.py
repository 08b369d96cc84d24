"""Grid tensors of a ConvAC by contracting its weights (no forward pass per assignment).

The grid tensor of a ConvAC is its decomposition evaluated at the templates: every leaf
holds the representation of the ``M`` templates, a 1x1 convolution mixes channels, and
product pooling of two nodes is an outer product over their assignments. Contracting the
tree costs ``O(M^N r)`` at the root instead of ``M^N`` forward passes. The same recursion
runs in float64, in the log domain (log-space nets) and modulo a prime (exact ranks).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["contract", "float_ops", "log_ops", "mod_ops"]


def contract(model, leaf: np.ndarray, weights: list[np.ndarray], out_w: np.ndarray,
             mix: Callable, outer: Callable) -> np.ndarray:
    """Flat row-major ``M^N`` grid of one output.

    Args:
        model: The ConvAC (its ``kind`` and ``tree``).
        leaf: ``(M_templates, M)`` representation of every template.
        weights: The mixing matrices (``(r, r_in)`` or per node ``(P, r, r_in)``).
        out_w: ``(r_last,)`` output weights of the chosen output.
        mix: ``mix(h, w) -> h'`` for ``h`` ``(rows, r_in)`` and ``w`` ``(r, r_in)``.
        outer: ``outer(a, b) -> (rows_a * rows_b, r)`` (product pooling).
    """
    n = model.tree.n_positions

    def weight(w: np.ndarray, j: int) -> np.ndarray:
        return w if w.ndim == 2 else w[j]

    if model.kind == "shallow":
        nodes = [(mix(leaf, weight(weights[0], i)), (i,)) for i in range(n)]
        acc, members = nodes[0]
        for t, m in nodes[1:]:
            acc, members = outer(acc, t), members + m
    else:
        nodes = [(leaf, (i,)) for i in range(n)]
        for level, (left, right) in enumerate(model.tree.pairs):
            mixed = [(mix(t, weight(weights[level], j)), m) for j, (t, m) in enumerate(nodes)]
            nodes = [(outer(mixed[a][0], mixed[b][0]), mixed[a][1] + mixed[b][1])
                     for a, b in zip(left, right)]
        acc, members = nodes[0]
    flat = mix(acc, out_w[None, :])[:, 0]
    m_t = leaf.shape[0]
    return np.transpose(flat.reshape((m_t,) * n), np.argsort(members)).reshape(-1)


def float_ops():
    """``mix`` and ``outer`` in float64."""
    def mix(h, w):
        return h @ w.T

    def outer(a, b):
        return (a[:, None, :] * b[None, :, :]).reshape(-1, a.shape[1])
    return mix, outer


def log_ops():
    """``mix`` (log-sum-exp with softmax weights) and ``outer`` (sum) in the log domain."""
    def mix(h, w):
        logw = w - w.max(-1, keepdims=True)
        logw = logw - np.log(np.exp(logw).sum(-1, keepdims=True))
        z = h[:, None, :] + logw[None, :, :]
        c = z.max(-1, keepdims=True)
        return (c + np.log(np.exp(z - c).sum(-1, keepdims=True)))[..., 0]

    def outer(a, b):
        return (a[:, None, :] + b[None, :, :]).reshape(-1, a.shape[1])
    return mix, outer


def mod_ops(p: int):
    """``mix`` and ``outer`` modulo the prime ``p`` (residues below 2^25)."""
    def mix(h, w):
        return (h @ w.T) % p

    def outer(a, b):
        return ((a[:, None, :] * b[None, :, :]) % p).reshape(-1, a.shape[1])
    return mix, outer
