"""Training and measurements of ``pooling-geometry``."""

from __future__ import annotations

import time

import torch
from torch.nn import functional as F

from deepscope.data import blob_images
from deepscope.lenses.tensors import rank_bound
from deepscope.nets import convac, relu_convnet
from deepscope.train import fit

__all__ = ["NETS", "PARTITIONS", "build", "task_data", "train_and_record"]

NETS = ("convac-square", "convac-mirror", "relu-square", "relu-mirror")
#: Partitions whose separation-rank bounds are recorded: the symmetry task needs left-right
#: correlations, the closedness task local ones (interleaved partitions).
PARTITIONS = ("left-right", "checkerboard", "odd-even", "top-bottom")


def task_data(cfg, task: str, seed: int):
    """Training and test sets of a task (different seeds of the generator)."""
    train = blob_images(cfg.n_train, task, size=cfg.size, seed=2 * seed)
    test = blob_images(cfg.n_test, task, size=cfg.size, seed=2 * seed + 1)
    return train, test


def build(cfg, net_name: str, seed: int):
    """A fresh net and its learning rate."""
    kind, pooling = net_name.split("-")
    shape = (cfg.size, cfg.size)
    if kind == "convac":
        net = convac(shape, cfg.templates, cfg.channels, pooling=pooling, space="log",
                     in_channels=2, n_outputs=2, seed=seed)
        return net, cfg.lr_convac
    net = relu_convnet(shape, 2, cfg.relu_channels, pooling=pooling, pool=cfg.relu_pool,
                       n_outputs=2, seed=seed)
    return net, cfg.lr_relu


def _accuracy(net, x, y) -> float:
    with torch.no_grad():
        return float((net(x).argmax(1) == y).float().mean())


def train_and_record(cfg, rec, task: str, seed: int, net_name: str, data, device) -> None:
    """Train one net; record losses, accuracies, time and (ConvACs) the rank bounds."""
    train, test = data
    xtr, ytr = train.one_hot().to(device), train.labels.to(device)
    xte, yte = test.one_hot().to(device), test.labels.to(device)
    net, lr = build(cfg, net_name, seed)
    net = net.to(device)
    layer = f"{task}|{net_name}"
    t0 = time.perf_counter()
    result = fit(net, F.cross_entropy, (xtr, ytr), optimizer="adam", lr=lr, steps=cfg.steps,
                 batch_size=cfg.batch_size, seed=seed)
    seconds = time.perf_counter() - t0
    losses = result.losses
    marks = list(range(cfg.log_every, cfg.steps + 1, cfg.log_every)) or [cfg.steps]
    for s in marks:
        window = losses[max(0, s - cfg.log_every):s]
        rec.record(step=s, lens="training", layer=layer, metric="loss",
                   value=float(window.mean()), seed=seed)
    rec.record(step=cfg.steps, lens="accuracy", layer=layer,
               metric=["train", "test", "train_s"],
               value=[_accuracy(net, xtr, ytr), _accuracy(net, xte, yte), seconds], seed=seed)
    if net_name.startswith("convac"):
        bounds = [rank_bound(net.cpu(), p, output=1).log2_bound for p in PARTITIONS]
        rec.record(step=cfg.steps, lens="rank_bound", layer=layer,
                   metric=[f"log2:{p}" for p in PARTITIONS], value=bounds, seed=seed)


def record_examples(rec, task: str, seed: int, data) -> None:
    """Four test images per class, for the figure."""
    _, test = data
    for label in (0, 1):
        idx = torch.nonzero(test.labels == label).flatten()[:4]
        for k, i in enumerate(idx.tolist()):
            rec.record(step=k, lens="example", layer=f"{task}|{label}", metric="pixels",
                       value=test.images[i].flatten().numpy(), seed=seed)
