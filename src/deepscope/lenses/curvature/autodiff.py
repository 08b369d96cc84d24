"""Second derivatives through real models: which autodiff mode works, and op substitutes.

Private module of :mod:`deepscope.lenses.curvature`. Hessian-vector products are computed
forward-over-reverse (``jvp`` of ``grad``) where every op of the model has a forward-mode
rule for its backward formula, and reverse-over-reverse (``vjp`` of ``grad``, a double
backward) otherwise; which one runs is decided once per operator by a *capability probe*
on the first product (the first mode that returns a finite product wins), never by
matching error text. The Hessian is symmetric, so both give the same product. Only when
neither mode works are the composite substitutes below switched on (and the probe rerun).

During second-order work:

* attention runs through the math backend of
  :func:`torch.nn.functional.scaled_dot_product_attention`
  (:func:`torch.nn.attention.sdpa_kernel`): the fused CPU kernels have neither a
  forward-mode rule nor a double backward (torch 2.13), the math backend has both;
* ops with neither rule are evaluated through an equal composite form that has both, from
  the registry :data:`SUBSTITUTES` (``hardsigmoid(x) = clamp(x / 6 + 1/2, 0, 1)``,
  ``hardswish(x) = x * hardsigmoid(x)``), via a :class:`torch.overrides.TorchFunctionMode`.

Both are undone when the work ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

__all__ = ["MODES_AD", "SUBSTITUTES", "SubstituteMode", "register_substitute",
           "second_order"]

#: The two ways of computing a Hessian-vector product, in the order they are tried.
MODES_AD = ("forward-over-reverse", "reverse-over-reverse")


def _hardsigmoid(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    return torch.clamp(x / 6 + 0.5, 0.0, 1.0)


def _hardswish(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    return x * torch.clamp(x / 6 + 0.5, 0.0, 1.0)


#: Ops without second-order rules -> an equal composite with both (``fn(*args, **kwargs)``).
SUBSTITUTES: dict[Callable, Callable] = {
    F.hardsigmoid: _hardsigmoid,
    F.hardswish: _hardswish,
    torch._C._nn.hardsigmoid: _hardsigmoid,
    torch._C._nn.hardswish: _hardswish,
}


def register_substitute(op: Callable, composite: Callable) -> None:
    """Evaluate ``op`` as ``composite`` (same arguments, same values) in second-order work."""
    SUBSTITUTES[op] = composite


class SubstituteMode(TorchFunctionMode):
    """Routes every op of :data:`SUBSTITUTES` to its composite form while active."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        sub = SUBSTITUTES.get(func)
        if sub is not None:
            return sub(*args, **kwargs)
        return func(*args, **kwargs)


@contextlib.contextmanager
def second_order(substitutes: bool = True) -> Iterator[None]:
    """Math attention backend (and the composite substitutes), restored on exit.

    The substitutes cost a Python dispatch per op, so the operator turns them on only when
    its probe finds that no mode works without them.
    """
    with contextlib.ExitStack() as stack:
        try:
            from torch.nn.attention import SDPBackend, sdpa_kernel

            stack.enter_context(sdpa_kernel([SDPBackend.MATH]))
        except ImportError:  # pragma: no cover - older torch
            pass
        if substitutes:
            stack.enter_context(SubstituteMode())
        yield
