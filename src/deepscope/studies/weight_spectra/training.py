"""Training and measuring helpers of the ``weight-spectra`` study (private)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepscope.seeding import seeded_init
from deepscope.train import fit

#: Metrics of :func:`deepscope.lenses.spectra.analyze_weights` the study records per layer.
SPECTRA_METRICS = ("alpha", "alpha_hat", "D", "xmin", "lambda_max", "stable_rank",
                   "log_norm", "log_spectral_norm", "log_alpha_norm", "n_spikes",
                   "mp_softrank", "rand_distance", "n_traps", "n_evals")

#: Layers with fewer eigenvalues are left out of the model-level averages (no tail to fit).
MIN_EVALS_FOR_AVERAGE = 20


def build(arch: str, width: int, cnn_channels: tuple[int, int], seed: int) -> nn.Module:
    """A fresh MLP ``64-width-width-10`` (ReLU) or SmallCNN, initialised from ``seed``."""
    from deepscope.nets import MLP, SmallCNN

    if arch == "mlp":
        return seeded_init(lambda: MLP((64, width, width, 10), activation="relu"), seed)
    return seeded_init(lambda: SmallCNN(channels=cnn_channels, hidden=width), seed)


@torch.no_grad()
def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Classification accuracy of ``net`` on ``(x, y)`` (eval mode restored after)."""
    was = net.training
    net.eval()
    try:
        return float((net(x).argmax(1) == y).float().mean())
    finally:
        net.train(was)


def train(net: nn.Module, data, *, epochs: int, lr: float, batch_size: int, seed: int,
          on_epoch: Callable[[int], None] | None = None, start: int = 0) -> None:
    """Plain SGD on cross-entropy, reshuffled every epoch from ``seed``.

    ``on_epoch(e)`` is called after the initialisation (``e = 0``, unless resuming at
    ``start > 0``) and after every completed epoch ``e``.
    """
    x, y = data.x_train, data.y_train
    n = len(y)
    per_epoch = -(-n // batch_size)   # the last batch of an epoch may be short
    orders: dict[int, torch.Tensor] = {}

    def batches(step, generator):
        # each epoch's order from its own seed (so a resumed run reshuffles the same way)
        epoch, i = divmod(step - 1, per_epoch)
        if epoch not in orders:
            orders.clear()
            g = torch.Generator().manual_seed(seed * 100_003 + epoch)
            orders[epoch] = torch.randperm(n, generator=g).to(x.device)
        idx = orders[epoch][i * batch_size:(i + 1) * batch_size]
        return x[idx], y[idx]

    def epoch_end(step, model, logs):
        if on_epoch is not None:
            on_epoch(step // per_epoch)

    fit(net, F.cross_entropy, batches, optimizer="sgd", lr=lr, steps=epochs * per_epoch,
        seed=seed, on_step=epoch_end, resume={"step": start * per_epoch} if start else None,
        schedule=[e * per_epoch for e in range(0 if start == 0 else start + 1, epochs + 1)])


def spectra_rows(net: nn.Module, *, randomize: bool, seed: int):
    """``analyze_weights`` of ``net`` as its frame (MP fit on; randomisation optional)."""
    from deepscope.lenses.spectra import analyze_weights

    return analyze_weights(net, randomize=randomize, seed=seed).to_frame()


def mean_metric(frame, metric: str) -> float:
    """Mean of ``metric`` over layers with at least ``MIN_EVALS_FOR_AVERAGE`` eigenvalues."""
    big = frame[frame["n_evals"] >= MIN_EVALS_FOR_AVERAGE]
    vals = big[metric].to_numpy(dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if vals.size else float("nan")


def zoo_members(size: int, seed: int, widths: tuple[int, ...], lrs: tuple[float, ...],
                batches: tuple[int, ...], epochs: tuple[int, ...]) -> list[dict]:
    """``size`` hyperparameter draws (width, lr, batch, epochs), seeded."""
    rng = np.random.default_rng(10_007 + seed)
    return [{"width": int(rng.choice(widths)), "lr": float(rng.choice(lrs)),
             "batch_size": int(rng.choice(batches)), "epochs": int(rng.choice(epochs))}
            for _ in range(size)]
