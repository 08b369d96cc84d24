"""The work of ``rbm-rg``: stacked RBMs on critical Ising data, their receptive fields."""

from __future__ import annotations

import math

import numpy as np
import torch

from deepscope.studies.rbm_rg.locality import block_mass, effective_block, gyration_radius

__all__ = ["block_size", "locality_row", "train_stack"]


def train_stack(cfg, spins: torch.Tensor, seed: int, on_epoch=None):
    """Greedy layer-wise stack: spin-visible RBM on the lattice, then Bernoulli RBMs on the
    hidden probabilities of the layer below. Returns the RBMs and each layer's activations."""
    from deepscope.nets.rbm import RBM, ContrastiveDivergence, train_rbm

    x = spins.reshape(spins.shape[0], -1).float()
    rbms, acts = [], []
    for depth, nh in enumerate(cfg.hidden, start=1):
        gen = torch.Generator().manual_seed(seed * 7919 + depth)
        rbm = RBM(x.shape[1], nh, visible="spin" if depth == 1 else "bernoulli",
                  init_std=0.01, generator=gen)
        step = ContrastiveDivergence(k=cfg.cd_k, l1=cfg.l1, seed=seed * 13 + depth)
        train_rbm(rbm, x, step, lr=cfg.lr, epochs=cfg.epochs, batch_size=cfg.batch_size,
                  seed=seed + depth, on_epoch=None if on_epoch is None else
                  (lambda epoch, logs, depth=depth: on_epoch(depth, epoch, logs)))
        with torch.no_grad():
            x = rbm.hidden_prob(x)
        rbms.append(rbm)
        acts.append(x)
    return rbms, acts


def receptive_fields(rbms, L: int) -> list[np.ndarray]:
    """Linear receptive fields ``W_1 W_2 ... W_k`` of every layer, ``(units, L, L)`` each."""
    out, prod = [], None
    for rbm in rbms:
        w = rbm.W.detach().double()
        prod = w if prod is None else prod @ w
        out.append(prod.T.reshape(-1, L, L).numpy())
    return out


def block_size(L: int, n_units: int) -> int:
    """Block-spin block size matching ``n_units`` units on an ``L x L`` lattice."""
    return max(1, round(L / math.sqrt(n_units)))


def _block_fields(L: int, b: int) -> np.ndarray:
    f = np.zeros((1, L, L))
    f[0, :b, :b] = 1.0
    return f


def _max_corr(a: torch.Tensor, bsp: torch.Tensor) -> np.ndarray:
    a = a.double() - a.double().mean(0)
    c = bsp.double() - bsp.double().mean(0)
    a = a / a.norm(dim=0).clamp_min(1e-12)
    c = c / c.norm(dim=0).clamp_min(1e-12)
    return (a.T @ c).abs().max(1).values.numpy()


def locality_row(field: np.ndarray, acts: torch.Tensor, spins: torch.Tensor, b: int,
                 seed: int) -> dict[str, dict[str, float]]:
    """Median locality of one layer's receptive fields and of the matching block spins."""
    from deepscope.data.ising import block_spin

    L = field.shape[-1]
    bs = block_spin(spins, b, seed=seed).reshape(spins.shape[0], -1)
    ref = _block_fields(L, b)
    radius = gyration_radius(field)
    rbm = {"gyration_radius": float(np.median(radius)),
           "gyration_radius_q25": float(np.quantile(radius, 0.25)),
           "effective_block": float(np.median(effective_block(field))),
           "block_mass": float(np.median(block_mass(field, b))),
           "block_corr": float(np.median(_max_corr(acts, bs)))}
    block = {"gyration_radius": float(gyration_radius(ref)[0]),
             "gyration_radius_q25": float(gyration_radius(ref)[0]),
             "effective_block": float(effective_block(ref)[0]),
             "block_mass": 1.0, "block_corr": 1.0}
    flat = spins.reshape(spins.shape[0], -1).double()
    glob = {"gyration_radius": float(gyration_radius(np.ones((1, L, L)))[0]),
            "gyration_radius_q25": float(gyration_radius(np.ones((1, L, L)))[0]),
            "effective_block": float(effective_block(np.ones((1, L, L)))[0]),
            "block_mass": b * b / (L * L),
            "block_corr": float(_max_corr(flat.mean(1, keepdim=True), bs)[0])}
    return {"rbm": rbm, "block_spin": block, "magnetisation": glob}
