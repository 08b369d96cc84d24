"""Parities and linear-periodic functions: the hard families of Shalev-Shwartz et al. (2017).

Shalev-Shwartz, Shamir & Shammah (2017, arXiv 1703.07950, "Failures of Gradient-Based Deep
Learning", section 2) use two families of targets whose gradients carry almost no
information about which member is the target:

* parities ``chi_S(x) = prod_{i in S} x_i`` of ``x`` uniform on ``{+1, -1}^d``;
* linear-periodic functions ``cos(r v^T x)`` of Gaussian ``x ~ N(0, I_d)``, ``||v|| = 1``.

Every generator is deterministic given its ``seed`` (a CPU :class:`torch.Generator`, so the
numbers are the same on every device) and returns tensors on ``device``.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch

from deepscope.seeding import make_generator
from deepscope.errors import check_float, check_int, param_error

__all__ = [
    "linear_periodic",
    "parity",
    "parity_labels",
    "random_directions",
    "random_subset",
    "sign_inputs",
]


def _gen(seed: Any, func: str) -> torch.Generator:
    return make_generator(seed, "seed", func)[0]


def random_subset(d: int, k: int | None = None, *, seed: int | torch.Generator = 0
                  ) -> tuple[int, ...]:
    """A uniformly random subset of ``k`` of the coordinates ``0 .. d-1`` (sorted).

    Args:
        d: number of coordinates.
        k: subset size, default ``d // 2`` (at least 1), "about d/2" as in the paper.
        seed: seed of the draw.

    Example:
        >>> len(random_subset(10, seed=3))
        5
    """
    func = "random_subset"
    d = check_int(d, "d", func, low=1)
    k = max(1, d // 2) if k is None else check_int(k, "k", func, low=0, high=d)
    perm = torch.randperm(d, generator=_gen(seed, func))
    return tuple(sorted(int(i) for i in perm[:k]))


def sign_inputs(n: int, d: int, *, seed: int | torch.Generator = 0, device: Any = None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(n, d)`` inputs uniform on ``{+1, -1}^d``."""
    func = "sign_inputs"
    n = check_int(n, "n", func, low=1)
    d = check_int(d, "d", func, low=1)
    bits = torch.randint(0, 2, (n, d), generator=_gen(seed, func))
    return (1 - 2 * bits).to(device=device, dtype=dtype)


def parity_labels(x: torch.Tensor, subsets: Any) -> torch.Tensor:
    """Labels ``chi_S(x) = prod_{i in S} x_i`` of each subset ``S`` on inputs ``x``.

    Args:
        x: ``(n, d)`` inputs in ``{+1, -1}``.
        subsets: one subset (a sequence of coordinate indices) or a list of subsets.

    Returns:
        ``(n,)`` for one subset, ``(len(subsets), n)`` for a list (the ``targets`` of
        :func:`deepscope.lenses.gradients.gradient_variance_across_targets`). The empty
        subset gives the constant 1.

    Example:
        >>> x = torch.tensor([[1.0, -1.0, -1.0]])
        >>> parity_labels(x, (0, 1)).tolist(), parity_labels(x, [(1, 2), ()]).tolist()
        ([-1.0], [[1.0], [1.0]])
    """
    func = "parity_labels"
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise param_error("x", func, "a tensor (n, d)", getattr(x, "shape", type(x).__name__))
    d = x.shape[1]
    many = len(subsets) > 0 and all(not isinstance(s, numbers.Integral) for s in subsets)
    groups = list(subsets) if many else [subsets]
    masks = torch.zeros(len(groups), d, dtype=torch.bool)
    for row, s in enumerate(groups):
        idx = [int(i) for i in s]
        if any(i < 0 or i >= d for i in idx) or len(set(idx)) != len(idx):
            raise param_error("subsets", func, f"distinct coordinate indices in [0, {d - 1}]",
                              s)
        masks[row, idx] = True
    masks = masks.to(x.device)
    # product over the chosen coordinates: unchosen ones contribute 1
    vals = torch.where(masks[:, None, :], x[None], torch.ones((), dtype=x.dtype,
                                                              device=x.device))
    labels = vals.prod(-1)
    return labels if many else labels[0]


def parity(n: int, d: int, *, subset: Any = None, seed: int | torch.Generator = 0,
           device: Any = None,
           dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples ``(x, chi_S(x))`` with ``x`` uniform on ``{+1, -1}^d``.

    Args:
        n: number of samples.
        d: input dimension.
        subset: the coordinates ``S`` of the parity (default: :func:`random_subset` of
            ``d // 2`` coordinates drawn with the same ``seed``).
        seed: seed of the inputs (and of the default subset).
        device, dtype: of the returned tensors.

    Returns:
        ``x`` ``(n, d)`` and labels ``y`` ``(n,)`` in ``{+1, -1}``.

    Example:
        >>> x, y = parity(4, 6, subset=(0, 2))
        >>> bool((y == x[:, 0] * x[:, 2]).all())
        True
    """
    x = sign_inputs(n, d, seed=seed, device=device, dtype=dtype)
    s = random_subset(d, seed=seed) if subset is None else subset
    return x, parity_labels(x, tuple(s))


def random_directions(m: int, d: int, *, seed: int | torch.Generator = 0, device: Any = None,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(m, d)`` unit vectors uniform on the sphere (normalised Gaussians)."""
    func = "random_directions"
    m = check_int(m, "m", func, low=1)
    d = check_int(d, "d", func, low=1)
    v = torch.randn(m, d, generator=_gen(seed, func), dtype=torch.float64)
    return (v / v.norm(dim=1, keepdim=True)).to(device=device, dtype=dtype)


def linear_periodic(n: int, d: int, *, r: float, v: torch.Tensor | None = None,
                    seed: int | torch.Generator = 0, device: Any = None,
                    dtype: torch.dtype = torch.float32
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` samples of ``x ~ N(0, I_d)`` with labels ``cos(r v^T x)`` for unit vectors ``v``.

    Args:
        n: number of samples.
        d: input dimension.
        r: frequency ``r > 0``.
        v: ``(d,)`` or ``(m, d)`` directions (normalised here); default one random unit
            vector drawn from ``seed + 1`` (from the generator, after ``x``, for a
            Generator).
        seed: seed of the inputs.
        device, dtype: of the returned tensors.

    Returns:
        ``x`` ``(n, d)``, labels ``(n,)`` for one direction or ``(m, n)`` for ``m``, and the
        unit directions used.

    Example:
        >>> x, y, v = linear_periodic(5, 3, r=2.0, v=torch.tensor([0.0, 0.0, 2.0]))
        >>> bool(torch.allclose(y, torch.cos(2.0 * x[:, 2])))
        True
    """
    func = "linear_periodic"
    r = check_float(r, "r", func, low=0.0, closed="neither")
    n = check_int(n, "n", func, low=1)
    d = check_int(d, "d", func, low=1)
    gen = _gen(seed, func)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    if v is None:
        v_seed = gen if isinstance(seed, torch.Generator) else seed + 1
        v = random_directions(1, d, seed=v_seed, dtype=torch.float64)[0]
    if not isinstance(v, torch.Tensor) or v.shape[-1] != d or v.ndim not in (1, 2):
        raise param_error("v", func, f"a tensor (d,) or (m, d) with d = {d}",
                          getattr(v, "shape", type(v).__name__))
    v = v.detach().to("cpu", torch.float64)
    norms = v.norm(dim=-1, keepdim=True)
    if bool((norms == 0).any()):
        raise param_error("v", func, "non-zero directions", "a zero vector")
    v = v / norms
    y = torch.cos(r * (x @ v.T).T) if v.ndim == 2 else torch.cos(r * (x @ v))
    return (x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype),
            v.to(device=device, dtype=dtype))
