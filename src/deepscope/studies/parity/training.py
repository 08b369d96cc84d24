"""Many one-hidden-layer ReLU nets trained at once on parities (the ``parity`` study engine).

Nets of one input dimension ``d`` and different seeds are stacked along a leading seed
axis and trained with batched matmuls; forward and backward of the hinge loss are written
by hand (no autograd), so one SGD step of S nets costs a handful of ``torch.baddbmm`` calls:

.. math::

    z = W x + b,\\quad h = \\mathrm{relu}(z),\\quad p = u^\\top h + c,\\quad
    \\ell = \\max(0, 1 - y p),

    g_p = -y\\,[y p < 1] / B,\\quad \\nabla u = h^\\top g_p,\\quad \\nabla c = \\textstyle\\sum g_p,
    \\quad \\delta = g_p u \\odot [z > 0],\\quad \\nabla W = \\delta^\\top x,\\quad
    \\nabla b = \\textstyle\\sum \\delta.

Every step draws a fresh batch of ``x`` uniform on ``{+1, -1}^d`` for each net from its
own generator, seeded by (d, seed), as in the paper's online setting. Initialisation is
PyTorch's ``nn.Linear`` default, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, seeded per
(d, seed). So a net's numbers are the same whatever it is trained with: a seed trained
beside others equals that seed trained alone (bit-identical on the CPU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["ParityGroup"]


def _uniform(shape: tuple[int, ...], bound: float, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound


class ParityGroup(torch.nn.Module):
    """S nets ``d -> width -> 1`` (ReLU), each with its own parity target, trained together.

    A vectorised engine with a hand-written SGD step (:meth:`step`), trained through
    :func:`deepscope.train.fit` as its ``step_fn``; its state is :meth:`state_dict` (plain
    tensors), not ``nn.Module``'s.

    Args:
        d: input dimension.
        width: hidden units.
        seeds: one net per seed; the seed fixes its initialisation, its target subset and
            its stream of training batches.
        subsets: the parity subset of each net (same length as ``seeds``).
        device: where to train.
    """

    def __init__(self, d: int, width: int, seeds: Sequence[int], subsets: Sequence[tuple],
                 device: torch.device) -> None:
        super().__init__()
        self.d, self.width, self.seeds = d, width, tuple(seeds)
        self.device = device
        S = len(self.seeds)
        w1, b1, u, c = [], [], [], []
        for seed in self.seeds:
            gen = torch.Generator().manual_seed(1_000_003 * d + seed)
            w1.append(_uniform((width, d), 1 / math.sqrt(d), gen))
            b1.append(_uniform((width,), 1 / math.sqrt(d), gen))
            u.append(_uniform((width,), 1 / math.sqrt(width), gen))
            c.append(_uniform((1,), 1 / math.sqrt(width), gen))
        f32 = {"dtype": torch.float32, "device": device}
        self.W = torch.stack(w1).to(**f32)            # (S, width, d)
        self.b = torch.stack(b1).to(**f32)[:, None]   # (S, 1, width)
        self.u = torch.stack(u).to(**f32)[:, :, None]  # (S, width, 1)
        self.c = torch.stack(c).to(**f32)[:, None]    # (S, 1, 1)
        masks = torch.zeros(S, d, dtype=torch.bool)
        for i, s in enumerate(subsets):
            masks[i, list(s)] = True
        self.masks = masks.to(device)
        self.active = torch.ones(S, dtype=torch.bool, device=device)
        self.gens = [torch.Generator().manual_seed(2**32 + 7_919 * d + seed)
                     for seed in self.seeds]
        self.steps = 0

    # ------------------------------------------------------------------ data

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        """``(S, n)`` parity labels of ``(S, n, d)`` inputs (each net its own subset)."""
        one = torch.ones((), dtype=x.dtype, device=x.device)
        return torch.where(self.masks[:, None, :], x, one).prod(-1)

    def sample(self, n: int, gen: torch.Generator | None = None) -> torch.Tensor:
        """``(S, n, d)`` fresh inputs uniform on the cube: each net's from its own generator
        (the next training batch), or, given ``gen``, the same ``n`` inputs for every net
        (a test set)."""
        if gen is not None:
            bits = torch.randint(0, 2, (1, n, self.d), generator=gen)
            bits = bits.expand(len(self.seeds), n, self.d)
        else:
            bits = torch.stack([torch.randint(0, 2, (n, self.d), generator=g)
                                for g in self.gens])
        return (1 - 2 * bits).to(device=self.device, dtype=torch.float32)

    # ------------------------------------------------------------------ model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pre-activations ``z`` ``(S, n, width)`` and outputs ``p`` ``(S, n)``."""
        z = torch.baddbmm(self.b, x, self.W.transpose(1, 2))
        p = torch.baddbmm(self.c, z.clamp(min=0), self.u)[..., 0]
        return z, p

    def step(self, batch_size: int, lr: float) -> torch.Tensor:
        """One SGD step on a fresh batch; returns the batch hinge loss per net ``(S,)``."""
        x = self.sample(batch_size)
        y = self.labels(x)
        z, p = self.forward(x)
        margin = y * p
        loss = (1 - margin).clamp(min=0).mean(1)
        g_p = torch.where(margin < 1, -y, torch.zeros_like(y)) / batch_size   # (S, B)
        g_p = g_p * self.active[:, None]   # finished nets stay where they are
        h = z.clamp(min=0)
        grad_u = torch.bmm(h.transpose(1, 2), g_p[..., None])                # (S, width, 1)
        grad_c = g_p.sum(1)[:, None, None]
        delta = (g_p[..., None] * self.u.transpose(1, 2)) * (z > 0)           # (S, B, width)
        grad_W = torch.bmm(delta.transpose(1, 2), x)                          # (S, width, d)
        grad_b = delta.sum(1, keepdim=True)
        self.W.sub_(grad_W, alpha=lr)
        self.b.sub_(grad_b, alpha=lr)
        self.u.sub_(grad_u, alpha=lr)
        self.c.sub_(grad_c, alpha=lr)
        self.steps += 1
        return loss

    def accuracy(self, x: torch.Tensor) -> torch.Tensor:
        """Accuracy of ``sign(p)`` per net on ``(S, n, d)`` inputs."""
        _, p = self.forward(x)
        return ((p > 0) == (self.labels(x) > 0)).to(torch.float64).mean(1)

    def module(self, i: int) -> torch.nn.Sequential:
        """Net ``i`` as an ``nn.Sequential(Linear, ReLU, Linear)`` (a copy)."""
        skip = torch.nn.utils.skip_init   # weights are copied below: no RNG draw
        net = torch.nn.Sequential(skip(torch.nn.Linear, self.d, self.width), torch.nn.ReLU(),
                                  skip(torch.nn.Linear, self.width, 1)).to(self.device)
        with torch.no_grad():
            net[0].weight.copy_(self.W[i])
            net[0].bias.copy_(self.b[i, 0])
            net[2].weight.copy_(self.u[i, :, 0][None])
            net[2].bias.copy_(self.c[i, 0])
        return net

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict:
        return {"W": self.W.cpu(), "b": self.b.cpu(), "u": self.u.cpu(), "c": self.c.cpu(),
                "active": self.active.cpu(), "gens": [g.get_state() for g in self.gens],
                "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        for key in ("W", "b", "u", "c", "active"):
            getattr(self, key).copy_(state[key].to(self.device))
        for g, st in zip(self.gens, state["gens"]):
            g.set_state(st)
        self.steps = int(state["steps"])
