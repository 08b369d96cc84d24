"""Staircase targets ``y = u(v*^T x + b*)`` with a known piecewise-constant ``u``.

Shalev-Shwartz, Shamir & Shammah (2017, "Failures of Gradient-Based Deep Learning", arXiv
1703.07950, Section 5, "flat activations") learn ``y = u(v*^T x + b*)`` where ``u`` is a
non-decreasing staircase: its derivative is zero almost everywhere, so gradients through
``u`` carry no information. Inputs are ``x = randn(d) / 100``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deepscope.seeding import make_generator
from deepscope.errors import check_float, check_int

__all__ = ["Staircase", "StaircaseData", "staircase", "staircase_data"]


@dataclass(frozen=True)
class Staircase:
    """A non-decreasing piecewise-constant function.

    ``u(z) = levels[j]`` where ``j`` is the number of breakpoints ``<= z``.

    Attributes:
        breakpoints: ``(m,)`` increasing jump positions.
        levels: ``(m + 1,)`` increasing values, ``levels[0]`` left of the first jump.
    """

    breakpoints: torch.Tensor
    levels: torch.Tensor

    @property
    def n_steps(self) -> int:
        """Number of jumps ``m``."""
        return int(self.breakpoints.numel())

    def index(self, z: torch.Tensor) -> torch.Tensor:
        """The step index ``j`` (number of breakpoints ``<= z``) of every entry of ``z``."""
        bp = self.breakpoints.to(device=z.device, dtype=z.dtype)
        return torch.searchsorted(bp, z.contiguous(), right=True)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """``u(z)`` elementwise."""
        return self.levels.to(device=z.device, dtype=z.dtype)[self.index(z)]

    def smooth(self, z: torch.Tensor, temperature: float) -> torch.Tensor:
        """Sigmoid-smoothed staircase: each jump ``h_j 1[z >= t_j]`` becomes
        ``h_j sigmoid((z - t_j) / temperature)``."""
        bp = self.breakpoints.to(device=z.device, dtype=z.dtype)
        lv = self.levels.to(device=z.device, dtype=z.dtype)
        jumps = lv[1:] - lv[:-1]
        return lv[0] + (jumps * torch.sigmoid((z.unsqueeze(-1) - bp) / temperature)).sum(-1)


def staircase(n_steps: int = 55, *, low: float = -2.5, high: float = 2.5) -> Staircase:
    """``n_steps`` equal jumps evenly spaced on ``[low, high]``; ``u`` follows the identity.

    Breakpoints are ``t_j = low + (j + 1/2) (high - low) / n_steps`` and levels
    ``low + j (high - low) / n_steps`` for ``j = 0 .. n_steps``, so ``|u(z) - z|`` is at
    most half a step inside ``[low, high]``: a rounding of ``z`` to a grid of
    ``n_steps + 1`` values, flat outside the interval.

    Example:
        >>> u = staircase(4, low=0.0, high=4.0)
        >>> u(torch.tensor([0.2, 0.6, 2.4, 9.0])).tolist()
        [0.0, 1.0, 2.0, 4.0]
    """
    n_steps = check_int(n_steps, "n_steps", "staircase", low=1, high=100_000)
    low = check_float(low, "low", "staircase")
    high = check_float(high, "high", "staircase", low=low, closed="neither")
    j = torch.arange(n_steps + 1, dtype=torch.float64)
    width = (high - low) / n_steps
    return Staircase(breakpoints=low + (j[:-1] + 0.5) * width, levels=low + j * width)


@dataclass(frozen=True)
class StaircaseData:
    """Samples of ``y = u(v^T x + b)``.

    Attributes:
        x: ``(n, d)`` inputs, ``randn / 100``.
        y: ``(n,)`` targets.
        z: ``(n,)`` the argument ``v^T x + b``.
        v, b: the true direction and offset.
        u: the staircase.
        seed: the seed of ``x``.
    """

    x: torch.Tensor
    y: torch.Tensor
    z: torch.Tensor
    v: torch.Tensor
    b: float
    u: Staircase
    seed: int | None


def staircase_data(n: int, u: Staircase, v: torch.Tensor, b: float, *,
                   seed: int | torch.Generator = 0,
                   device: str | torch.device | None = None) -> StaircaseData:
    """``n`` samples ``x = randn(d) / 100``, ``y = u(v^T x + b)`` (float32).

    Args:
        n: number of samples.
        u: the staircase (see :func:`staircase`).
        v: ``(d,)`` the true direction (e.g. ``randn(d) * 100 / sqrt(d)`` so that
            ``v^T x`` is about standard normal).
        b: the true offset.
        seed: seed of the inputs (a CPU generator: same data on every device).
        device: where to put the tensors.

    Example:
        >>> v = torch.full((4,), 50.0)
        >>> d = staircase_data(3, staircase(), v, 0.0, seed=1)
        >>> d.x.shape, bool(torch.equal(d.y, d.u(d.z)))
        (torch.Size([3, 4]), True)
    """
    n = check_int(n, "n", "staircase_data", low=1, high=100_000_000)
    b = check_float(b, "b", "staircase_data")
    d = v.numel()
    gen, seed = make_generator(seed, "seed", "staircase_data")
    x = torch.randn(n, d, generator=gen) / 100
    dev = torch.device(device) if device is not None else torch.device("cpu")
    x, v = x.to(dev), v.to(device=dev, dtype=torch.float32).reshape(d)
    z = x @ v + b
    return StaircaseData(x=x, y=u(z), z=z, v=v, b=b, u=u, seed=seed)
