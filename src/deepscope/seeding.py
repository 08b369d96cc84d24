"""Randomness, spelled one way: ``seed: int | torch.Generator``.

Every lens, study and training loop takes ``seed`` and draws from its own generator: the
global RNGs of torch, numpy and Python are never read or written, so a seed's numbers do
not depend on what runs beside it, and a notebook's RNG state survives a study.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepscope.errors import param_error

__all__ = ["make_generator", "numpy_rng", "spawn"]

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


def spawn(generator: torch.Generator) -> int:
    """A fresh 63-bit seed drawn from ``generator`` (to derive independent streams)."""
    return int(torch.randint(0, 2**63 - 1, (1,), generator=generator, dtype=torch.int64))


def numpy_rng(seed: Any, name: str = "seed", func: str = "deepscope") -> np.random.Generator:
    """A :class:`numpy.random.Generator` for ``seed`` (an int, or a torch Generator to draw from)."""
    gen, value = make_generator(seed, name, func)
    return np.random.default_rng(value if value is not None else spawn(gen))
