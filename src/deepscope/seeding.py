"""Randomness, spelled one way: ``seed: int | torch.Generator``.

Every lens, study and training loop takes ``seed`` and draws from its own generator: the
global RNGs of torch, numpy and Python are never read or written, so a seed's numbers do
not depend on what runs beside it, and a notebook's RNG state survives a study.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

from deepscope.errors import param_error

__all__ = ["check_seeds", "make_generator", "numpy_rng", "seeded_init", "spawn"]

_ACCEPTED = "an int >= 0 or a CPU torch.Generator"


def make_generator(seed: Any, name: str = "seed", func: str = "deepscope"
                   ) -> tuple[torch.Generator, int | None]:
    """A CPU :class:`torch.Generator` and the int seed it came from (``None`` if given one).

    Args:
        seed: An int seed ``>= 0`` or a CPU ``torch.Generator`` (used as it is).
        name: The parameter's name, for the error message.
        func: The calling function's name, for the error message.

    Raises:
        DeepscopeTypeError / DeepscopeValueError: anything else.

    Example:
        >>> g, s = make_generator(3)
        >>> s, torch.randint(0, 10**6, (1,), generator=g).item() == torch.randint(
        ...     0, 10**6, (1,), generator=torch.Generator().manual_seed(3)).item()
        (3, True)
    """
    if isinstance(seed, torch.Generator):
        if seed.device.type != "cpu":
            raise param_error(name, func, _ACCEPTED, f"a {seed.device.type} Generator")
        return seed, None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise param_error(name, func, _ACCEPTED, seed, type_error=True)
    if seed < 0:
        raise param_error(name, func, _ACCEPTED, seed)
    return torch.Generator().manual_seed(int(seed)), int(seed)


def check_seeds(seeds: Any, func: str, name: str = "seeds") -> tuple[int, ...]:
    """A non-empty sequence of distinct ints ``>= 0`` as a tuple, or the standard error.

    Example:
        >>> check_seeds(range(3), "f")
        (0, 1, 2)
    """
    accepted = "a non-empty sequence of distinct non-negative ints"
    if isinstance(seeds, (str, bytes)):
        raise param_error(name, func, accepted, seeds)
    try:
        out = tuple(seeds)
    except TypeError:
        raise param_error(name, func, accepted, seeds) from None
    ok = bool(out) and all(not isinstance(s, bool) and isinstance(s, (int, np.integer))
                           and s >= 0 for s in out)
    if not ok or len(set(out)) != len(out):
        raise param_error(name, func, accepted, seeds)
    return tuple(int(s) for s in out)


def spawn(generator: torch.Generator) -> int:
    """A fresh 63-bit seed drawn from ``generator`` (to derive independent streams)."""
    return int(torch.randint(0, 2**63 - 1, (1,), generator=generator, dtype=torch.int64))


def numpy_rng(seed: Any, name: str = "seed", func: str = "deepscope") -> np.random.Generator:
    """A :class:`numpy.random.Generator` for ``seed`` (an int, or a torch Generator to draw from)."""
    gen, value = make_generator(seed, name, func)
    return np.random.default_rng(value if value is not None else spawn(gen))


_M = TypeVar("_M")


def seeded_init(make: Callable[[], _M], seed: int, device: Any = None) -> _M:
    """``make()`` with PyTorch's default initialisation drawn from ``seed``.

    Module constructors (``nn.Linear``...) draw their initial weights from torch's global
    RNG; this runs ``make`` inside :func:`torch.random.fork_rng` seeded with ``seed``, so the
    weights depend on ``seed`` only and the caller's RNG state is the same afterwards.
    The result is moved to ``device`` when given.

    Example:
        >>> state = torch.random.get_rng_state()
        >>> a = seeded_init(lambda: torch.nn.Linear(2, 2), 0)
        >>> b = seeded_init(lambda: torch.nn.Linear(2, 2), 0)
        >>> torch.equal(a.weight, b.weight), torch.equal(torch.random.get_rng_state(), state)
        (True, True)
    """
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(int(seed))
        out = make()
    return out.to(device) if device is not None else out
