"""Closed-form contraction of a ConvAC's weights: the brute-force oracle of the grid tensor."""

from __future__ import annotations

import numpy as np


def contraction(net, templates) -> np.ndarray:
    """The grid tensor of output 0, contracted from the weights with NumPy (no forward)."""
    rep = templates.double().numpy() @ net.representation.detach().double().numpy().T
    if net.log_space:
        rep = np.exp(rep)

    def weights(w):
        w = w.detach().double().numpy()
        if net.log_space:
            w = np.exp(w - w.max(-1, keepdims=True))
            w = w / w.sum(-1, keepdims=True)
        return w

    n = net.tree.n_positions
    convs = [weights(w) for w in net.convs]
    out = weights(net.output)[0]
    if net.kind == "shallow":
        w = convs[0]
        phis = [rep @ (w if w.ndim == 2 else w[i]).T for i in range(n)]   # (M, Z) each
        z = phis[0].shape[1]
        total = np.zeros((rep.shape[0],) * n)
        for k in range(z):
            term = phis[0][:, k]
            for i in range(1, n):
                term = np.multiply.outer(term, phis[i][:, k])
            total += out[k] * term
        return total
    # nodes: (tensor with modes = positions in `members` order, then one channel axis)
    nodes = [(rep, (i,)) for i in range(n)]
    for level, (left, right) in enumerate(net.tree.pairs):
        w = convs[level]
        mixed = []
        for j, (t, members) in enumerate(nodes):
            wj = w if w.ndim == 2 else w[j]
            mixed.append((np.tensordot(t, wj, axes=([-1], [1])), members))
        nodes = []
        for a, b in zip(left, right):
            ta, ma = mixed[a]
            tb, mb = mixed[b]
            ka, kb = ta.ndim - 1, tb.ndim - 1
            prod = np.einsum(ta, [*range(ka), 50], tb, [*range(ka, ka + kb), 50],
                             [*range(ka + kb), 50])
            nodes.append((prod, ma + mb))
    tensor, members = nodes[0]
    tensor = np.tensordot(tensor, out, axes=([-1], [0]))
    return np.transpose(tensor, np.argsort(members))
