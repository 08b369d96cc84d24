"""The sawtooth target of Telgarsky's depth-separation argument.

The tent map :math:`t(x) = 2\\min(x, 1 - x)` maps :math:`[0, 1]` onto itself; its
``L``-fold composition :math:`t^{(L)}` is a sawtooth with :math:`2^{L-1}` teeth and
:math:`2^L` linear pieces (M. Telgarsky, 2016, "Benefits of depth in neural networks",
arXiv:1602.04485). :func:`deepscope.nets.sawtooth_net` computes it exactly with ``L``
hidden ReLU layers of width 2.
"""

from __future__ import annotations

import torch

from deepscope.errors import check_int, param_error

__all__ = ["sawtooth"]


def sawtooth(x: torch.Tensor, depth: int) -> torch.Tensor:
    """Evaluate the ``depth``-fold composition of the tent map on :math:`[0, 1]`.

    .. math::

        t(x) = \\begin{cases} 2x & x \\le 1/2 \\\\ 2 - 2x & x > 1/2 \\end{cases},
        \\qquad t^{(L)} = \\underbrace{t \\circ \\cdots \\circ t}_{L}.

    Each step only doubles and subtracts from 2, so on dyadic inputs the result is exact.
    The output has the shape, dtype and device of ``x``; ``depth = 0`` is the identity.

    Args:
        x: Floating tensor of any shape with values in :math:`[0, 1]`.
        depth: Number of tent maps composed, ``L >= 0``.

    Returns:
        :math:`t^{(L)}(x)`, elementwise, with values in :math:`[0, 1]`.

    Raises:
        DeepscopeError: If ``x`` is not a floating tensor, has values outside
            :math:`[0, 1]` (or NaN), or ``depth`` is not a non-negative int.

    Example:
        >>> import torch
        >>> sawtooth(torch.tensor([0.0, 0.125, 0.25, 0.5]), 2).tolist()
        [0.0, 0.5, 1.0, 0.0]
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise param_error("x", "sawtooth", "a floating torch.Tensor", x, type_error=True)
    depth = check_int(depth, "depth", "sawtooth", low=0, high=1000)
    if x.numel() and not bool(((x >= 0) & (x <= 1)).all()):
        raise param_error("x", "sawtooth", "a tensor with values in [0, 1]",
                          f"values in [{x.min().item():g}, {x.max().item():g}]")
    y = x
    for _ in range(depth):
        y = torch.where(y <= 0.5, 2 * y, 2 - 2 * y)
    return y
