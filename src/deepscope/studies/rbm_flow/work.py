"""The work of ``rbm-flow``: Ising data, the thermometer, the RBMs and their flows."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["flow_steps", "ising_data", "measure", "train_rbm", "train_thermometer"]


def ising_data(cfg, seed: int, n: int, offset: int = 0):
    """Ising samples at the config's temperatures, as ``{0, 1}`` visibles ``(T, n, L*L)``."""
    from deepscope.data.ising import ising

    s = ising(cfg.L, cfg.temperatures, n, seed=seed * 1009 + offset)
    v = (s.spins.float().reshape(len(cfg.temperatures), n, -1) + 1) / 2
    return s, v


def train_thermometer(cfg, x: torch.Tensor, seed: int) -> nn.Module:
    """Supervised classifier of the temperature (softmax over the training temperatures)."""
    from deepscope.train import fit

    n_t, n, d = x.shape
    gen = torch.Generator().manual_seed(seed * 7919 + 1)
    with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws from the global RNG
        net = nn.Sequential(nn.Linear(d, cfg.thermometer_hidden), nn.ReLU(),
                            nn.Linear(cfg.thermometer_hidden, n_t))
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight, a=5 ** 0.5, generator=gen)
            nn.init.uniform_(m.bias, -d ** -0.5, d ** -0.5, generator=gen)
    y = torch.arange(n_t).repeat_interleave(n)
    fit(net, nn.functional.cross_entropy, (x.reshape(-1, d), y), optimizer="adam",
        lr=1e-3, epochs=cfg.thermometer_epochs, batch_size=100, seed=seed)
    return net


def measure(net: nn.Module, temps: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The thermometer's temperature of each row: ``sum_k p(T_k | v) T_k``."""
    with torch.no_grad():
        return torch.softmax(net(v), 1) @ temps


def train_rbm(cfg, x: torch.Tensor, n_hidden: int, seed: int, on_epoch=None):
    """An RBM trained by CD-k (or PCD) on every temperature's configurations at once."""
    from deepscope.nets.rbm import RBM, ContrastiveDivergence
    from deepscope.nets.rbm import train_rbm as fit_rbm

    data = x.reshape(-1, x.shape[-1])
    gen = torch.Generator().manual_seed(seed * 104_729 + n_hidden)
    rbm = RBM(data.shape[1], n_hidden, init_std=0.01, generator=gen)
    step = ContrastiveDivergence(k=cfg.cd_k, persistent=cfg.persistent, seed=seed)
    fit_rbm(rbm, data, step, lr=cfg.rbm_lr, epochs=cfg.rbm_epochs,
            batch_size=cfg.batch_size, seed=seed, on_epoch=on_epoch)
    return rbm


def flow_steps(total: int) -> list[int]:
    """The iterations at which the flow is measured: 0, 1, 2, 3, 5, 10, 20, 50, ... , total."""
    out = {0, total}
    for decade in (1, 10, 100, 1000, 10_000, 100_000):
        for k in (1, 2, 3, 5):
            if decade * k < total:
                out.add(decade * k)
    return sorted(out)


def magnetisation_temperature(data_abs_m: np.ndarray, temps: np.ndarray, abs_m: float) -> float:
    """Temperature at which the data's ``<|m|>(T)`` equals ``abs_m`` (linear interpolation)."""
    order = np.argsort(data_abs_m)
    return float(np.interp(abs_m, data_abs_m[order], temps[order]))
