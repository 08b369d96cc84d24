"""Two-dimensional toy classification tasks: two moons and two interleaved spirals.

Both generators are deterministic functions of ``(n, noise, seed)``: the points come from
a seeded :class:`torch.Generator` on the CPU (bit-identical on every machine), are
shuffled with the same generator, and only then moved to ``device``. The two-dimensional
input is what makes the exact linear-region partition of a ReLU net drawable
(Hanin & Rolnick 2019, arXiv 1906.00904).
"""

from __future__ import annotations

import math

import torch

from deepscope.seeding import make_generator
from deepscope.errors import check_float, check_int

__all__ = ["moons", "spirals"]


def _finish(
    points: torch.Tensor, labels: torch.Tensor, noise: float, gen: torch.Generator,
    dtype: torch.dtype, device: torch.device | str | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    if noise > 0:
        points = points + noise * torch.randn(points.shape, generator=gen, dtype=torch.float64)
    order = torch.randperm(points.shape[0], generator=gen)
    return points[order].to(dtype=dtype, device=device), labels[order].to(device=device)


def _split(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def moons(
    n: int = 200,
    noise: float = 0.1,
    seed: int | torch.Generator = 0,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles ("two moons").

    Class 0 lies on :math:`(\\cos t, \\sin t)`, class 1 on
    :math:`(1 - \\cos t, 1/2 - \\sin t)`, for ``t`` evenly spaced in :math:`[0, \\pi]`,
    plus isotropic Gaussian noise of standard deviation ``noise``.

    Args:
        n: Number of points (``n // 2`` of class 0, the rest of class 1), at least 2.
        noise: Standard deviation of the added Gaussian noise (0 for none).
        seed: Seed of the noise and of the shuffle.
        dtype: Floating dtype of the points.
        device: Where to put the tensors.

    Returns:
        ``(x, y)``: points ``(n, 2)`` and int64 labels ``(n,)`` in ``{0, 1}``, shuffled.

    Raises:
        DeepscopeError: On ``n < 2``, a negative noise or a negative seed.

    Example:
        >>> x, y = moons(100, noise=0.05, seed=1)
        >>> x.shape, int(y.sum())
        (torch.Size([100, 2]), 50)
    """
    n = check_int(n, "n", "moons", low=2)
    noise = check_float(noise, "noise", "moons", low=0.0)
    gen, _ = make_generator(seed, "seed", "moons")
    n0, n1 = _split(n)
    t0 = torch.linspace(0, math.pi, n0, dtype=torch.float64)
    t1 = torch.linspace(0, math.pi, n1, dtype=torch.float64)
    upper = torch.stack([torch.cos(t0), torch.sin(t0)], 1)
    lower = torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], 1)
    labels = torch.cat([torch.zeros(n0, dtype=torch.int64), torch.ones(n1, dtype=torch.int64)])
    return _finish(torch.cat([upper, lower]), labels, noise, gen, dtype, device)


def spirals(
    n: int = 200,
    noise: float = 0.05,
    seed: int | torch.Generator = 0,
    turns: float = 1.5,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved Archimedean spirals in the unit disc.

    Arm ``c`` (class ``c``) is :math:`r(s)\\,(\\cos\\theta, \\sin\\theta)` with
    :math:`r = 0.1 + 0.9 s`, :math:`\\theta = 2\\pi \\cdot \\text{turns} \\cdot s + c\\pi`
    for ``s`` evenly spaced in :math:`[0, 1]`, plus Gaussian noise of standard deviation
    ``noise``. More turns make the task need more linear regions.

    Args:
        n: Number of points (``n // 2`` of class 0, the rest of class 1), at least 2.
        noise: Standard deviation of the added Gaussian noise (0 for none).
        seed: Seed of the noise and of the shuffle.
        turns: Number of turns of each arm, in (0, 10].
        dtype: Floating dtype of the points.
        device: Where to put the tensors.

    Returns:
        ``(x, y)``: points ``(n, 2)`` and int64 labels ``(n,)`` in ``{0, 1}``, shuffled.

    Raises:
        DeepscopeError: On ``n < 2``, a negative noise or seed, or turns outside (0, 10].

    Example:
        >>> x, y = spirals(100, noise=0.0, seed=0)
        >>> bool((x.norm(dim=1) <= 1.0 + 1e-6).all())
        True
    """
    n = check_int(n, "n", "spirals", low=2)
    noise = check_float(noise, "noise", "spirals", low=0.0)
    gen, _ = make_generator(seed, "seed", "spirals")
    turns = check_float(turns, "turns", "spirals", low=0.0, high=10.0, closed="right")
    arms = []
    for c, m in enumerate(_split(n)):
        s = torch.linspace(0, 1, m, dtype=torch.float64)
        r = 0.1 + 0.9 * s
        theta = 2 * math.pi * turns * s + c * math.pi
        arms.append(torch.stack([r * torch.cos(theta), r * torch.sin(theta)], 1))
    n0, n1 = _split(n)
    labels = torch.cat([torch.zeros(n0, dtype=torch.int64), torch.ones(n1, dtype=torch.int64)])
    return _finish(torch.cat(arms), labels, noise, gen, dtype, device)
