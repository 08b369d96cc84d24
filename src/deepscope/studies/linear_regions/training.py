"""Small, seeded training loops shared by the ``linear-regions`` and ``depth-separation``
studies (full-batch or minibatch Adam with callbacks at chosen steps)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["log_steps", "parameter_count", "seeded_init", "train"]


def log_steps(steps: int, points: int) -> list[int]:
    """``points`` log-spaced steps in ``[0, steps]`` (0 and ``steps`` included), unique."""
    if points <= 1:
        return [0, steps] if steps else [0]
    grid = np.unique(np.round(np.logspace(0, np.log10(steps + 1), points) - 1).astype(int))
    return sorted({0, steps, *grid.tolist()})


def parameter_count(model: nn.Module) -> int:
    """Number of scalar parameters."""
    return sum(p.numel() for p in model.parameters())


def seeded_init(make: Callable[[], nn.Module], seed: int, device: torch.device) -> nn.Module:
    """Build ``make()`` with PyTorch's default initialisation drawn from ``seed`` (the
    global RNG state is saved and restored), in float32 on ``device``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make()
    return model.to(device)


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
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    marks = set(int(s) for s in at)
    last = None
    order = None
    pos = n
    for step in range(steps + 1):
        if step in marks and on_step is not None:
            on_step(step)
        if step == steps:
            break
        if batch_size is None or batch_size >= n:
            xb, yb = x, y
        else:
            if pos + batch_size > n:
                order = torch.randperm(n, generator=gen).to(x.device)
                pos = 0
            idx = order[pos:pos + batch_size]
            pos += batch_size
            xb, yb = x[idx], y[idx]
        out = model(xb)
        if loss == "ce":
            value = nn.functional.cross_entropy(out, yb)
        else:
            value = nn.functional.mse_loss(out.reshape(yb.shape), yb)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        last = value.detach()
    return float("nan") if last is None else float(last)
