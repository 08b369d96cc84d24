"""Small, seeded training loops shared by the ``linear-regions`` and ``depth-separation``
studies (full-batch or minibatch Adam with callbacks at chosen steps)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from deepscope.train import fit

__all__ = ["log_steps", "parameter_count", "train"]


def log_steps(steps: int, points: int) -> list[int]:
    """``points`` log-spaced steps in ``[0, steps]`` (0 and ``steps`` included), unique."""
    if points <= 1:
        return [0, steps] if steps else [0]
    grid = np.unique(np.round(np.logspace(0, np.log10(steps + 1), points) - 1).astype(int))
    return sorted({0, steps, *grid.tolist()})


def parameter_count(model: nn.Module) -> int:
    """Number of scalar parameters."""
    return sum(p.numel() for p in model.parameters())


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss: str,
    steps: int,
    lr: float,
    batch_size: int | None = None,
    seed: int = 0,
    at: Sequence[int] = (),
    on_step: Callable[[int], None] | None = None,
) -> float:
    """Train ``model`` in place with Adam; call ``on_step(s)`` at every step ``s`` in ``at``
    (before any update for ``s = 0``; ``s`` counts completed updates).

    Args:
        model: The network (left in train mode).
        x, y: Data; ``y`` holds class indices (``loss="ce"``) or targets (``loss="mse"``).
        loss: ``"ce"`` (cross-entropy on logits) or ``"mse"``.
        steps: Number of updates.
        lr: Adam learning rate.
        batch_size: Minibatch size (``None``: full batch).
        seed: Seed of the minibatch order (a CPU generator).
        at: Steps at which to call ``on_step``.
        on_step: The callback.

    Returns:
        The last training loss.
    """
    n = x.shape[0]
    full = batch_size is None or batch_size >= n
    state: dict = {"order": None, "pos": n}

    def batches(step, generator):
        if full:
            return x, y
        if state["pos"] + batch_size > n:  # a new order when the next batch would not fit
            state["order"] = torch.randperm(n, generator=generator).to(x.device)
            state["pos"] = 0
        idx = state["order"][state["pos"]:state["pos"] + batch_size]
        state["pos"] += batch_size
        return x[idx], y[idx]

    def loss_fn(out, yb):
        if loss == "ce":
            return nn.functional.cross_entropy(out, yb)
        return nn.functional.mse_loss(out.reshape(yb.shape), yb)

    res = fit(model, loss_fn, batches, optimizer="adam", lr=lr,
              steps=steps, seed=seed, schedule=at,
              on_step=None if on_step is None else lambda s, m, logs: on_step(s))
    return float(res.losses[-1]) if len(res.losses) else float("nan")
