"""The lens registry: every public lens, what it needs, and a tiny case to check it on.

Each lens family registers its public functions here when imported. The contract suite
(``tests/lenses/test_contract.py``) runs every registered lens on its tiny case and checks
the contract of DESIGN.md: a typed result recording its lens, ``to_frame()`` and a tidy
``layer, metric, value`` table, the same result for the same seed, the model's state,
mode, gradients and hooks untouched, and the one error shape for bad arguments.
``deepscope inspect`` reads ``needs`` to decide which lenses apply to a user's model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from deepscope.errors import DeepscopeValueError, check_choice

__all__ = ["NEEDS", "LensCase", "LensSpec", "get_lens", "lenses", "register_lens", "tiny_net",
           "tiny_data"]

#: What a lens may need from a user's model and data.
NEEDS = ("model", "data", "loss", "piecewise_linear", "activations", "weights", "rbm",
         "convac")


@dataclass(frozen=True)
class LensCase:
    """A tiny, fast example call of a lens: ``func(*args, **kwargs)``.

    ``model`` is the module the call must leave untouched (``None`` when the lens takes
    no model).
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    model: Any = None


@dataclass(frozen=True)
class LensSpec:
    """A registered lens.

    Attributes:
        name: ``family.function`` (e.g. ``"curvature.hessian_eigs"``).
        func: The public function.
        needs: Subset of :data:`NEEDS`.
        case: Builds a fresh :class:`LensCase` (called once per check).
        bad: ``(kwargs override, parameter name)`` pairs that must raise a DeepscopeError
            whose message names the parameter.
        seeded: Whether the lens takes a ``seed``.
        tidy: Whether the result offers ``tidy()`` (``False`` only for lenses that return
            raw tensors, e.g. a Hessian-vector product).
    """

    name: str
    func: Callable
    needs: tuple[str, ...]
    case: Callable[[], LensCase]
    bad: tuple[tuple[dict, str], ...] = ()
    seeded: bool = False
    tidy: bool = True

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


_REGISTRY: dict[str, LensSpec] = {}


def register_lens(name: str, func: Callable, *, needs: Sequence[str],
                  case: Callable[[], LensCase], bad: Sequence[tuple[dict, str]] = (),
                  seeded: bool = False, tidy: bool = True) -> LensSpec:
    """Add a lens to the registry (a family's ``__init__`` calls this for each lens).

    Raises:
        DeepscopeValueError: a malformed name, an unknown need, or a name registered twice
            with another function.
    """
    if not isinstance(name, str) or name.count(".") != 1:
        raise DeepscopeValueError(f"A lens name must be 'family.function'. Got {name!r}.")
    for need in needs:
        check_choice(need, "needs", "register_lens", NEEDS)
    spec = LensSpec(name, func, tuple(needs), case, tuple(bad), seeded, tidy)
    old = _REGISTRY.get(name)
    if old is not None and old.func is not func:
        raise DeepscopeValueError(f"Lens {name!r} is registered twice.")
    _REGISTRY[name] = spec
    return spec


def lenses(family: str | None = None) -> list[LensSpec]:
    """Every registered lens (of one family), sorted by name."""
    import deepscope.lenses  # noqa: F401  (importing the families registers them)

    return [s for k, s in sorted(_REGISTRY.items()) if family is None or s.family == family]


def get_lens(name: str) -> LensSpec:
    """The lens called ``name``; an unknown name lists the known ones."""
    import deepscope.lenses  # noqa: F401

    if name not in _REGISTRY:
        raise DeepscopeValueError(f"Unknown lens {name!r}. Known lenses: "
                                  f"{', '.join(sorted(_REGISTRY))}.")
    return _REGISTRY[name]


def tiny_net(*widths: int, activation: str = "relu", seed: int = 0, norm: bool = False):
    """A small ``Linear``/activation stack for a tiny case, initialised from ``seed``
    (``activation``: ``"relu"`` or ``"tanh"``), the caller's global RNG left alone. With
    ``norm`` a ``BatchNorm1d`` follows the first layer (buffers a lens must not update)."""
    import torch

    from deepscope.seeding import seeded_init

    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[activation]

    def make():
        layers: list = []
        for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers += [torch.nn.Linear(n_in, n_out)]
            layers += [torch.nn.BatchNorm1d(n_out)] if norm and i == 0 else []
            layers += [act()]
        return torch.nn.Sequential(*layers[:-1])

    return seeded_init(make, seed)


def tiny_data(n: int, d: int, classes: int = 2, seed: int = 5):
    """``(x (n, d), y (n,))`` from a seeded generator: Gaussian inputs, labels in
    ``[0, classes)``."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, classes, (n,), generator=g)
