"""Telgarsky's sawtooth network: a deep, narrow ReLU net with exactly 2^L linear pieces.

Telgarsky (2016), "Benefits of depth in neural networks", arXiv:1602.04485, builds the tent
map

.. math::

    t(x) = 2\\,\\mathrm{relu}(x) - 4\\,\\mathrm{relu}(x - 1/2)
         = \\begin{cases} 2x & 0 \\le x \\le 1/2 \\\\ 2 - 2x & 1/2 < x \\le 1 \\end{cases}

from two ReLUs and composes it ``L`` times. The composition :math:`t^{(L)}` is a sawtooth
with :math:`2^{L-1}` teeth and :math:`2^L` linear pieces on :math:`[0, 1]`, computed by a
net with ``L`` hidden layers of width 2 (``4L + 1`` weights and biases in all, ``6L - 1``
counting each matrix entry). A one-hidden-layer ReLU net needs at least
:math:`2^{L-1}` units to have as many pieces, which is the depth-separation argument.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.nn.utils import skip_init

from deepscope.errors import check_int, param_error

__all__ = ["sawtooth_net"]


def sawtooth_net(depth: int, *, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """Telgarsky's exact construction of the depth-fold tent map as a ReLU network.

    Layer 1 is ``Linear(1, 2)`` with :math:`W = [[1], [1]]`, :math:`b = [0, -1/2]`; each of
    the next ``depth - 1`` hidden layers is ``Linear(2, 2)`` with
    :math:`W = [[2, -4], [2, -4]]`, :math:`b = [0, -1/2]` (it applies the tent map to the
    previous pair and feeds the result to the next pair); the output is ``Linear(2, 1)`` with
    :math:`W = [[2, -4]]`, :math:`b = 0`. Every hidden layer is followed by a ReLU. On
    :math:`[0, 1]` the network computes :math:`t^{(L)}(x)`, see
    :func:`deepscope.data.sawtooth`, with :math:`2^L` linear pieces. All weights are
    dyadic, so the construction is exact in floating point.

    The submodules are named ``fc1, act1, ..., fc{L}, act{L}, fc{L+1}`` like
    :class:`deepscope.nets.MLP`. Parameters are ordinary trainable ``nn.Parameter`` s.

    Reference: M. Telgarsky (2016), "Benefits of depth in neural networks",
    arXiv:1602.04485.

    Args:
        depth: Number of tent maps composed, ``L >= 1`` (the number of hidden layers).
        dtype: Floating dtype of the parameters.

    Returns:
        The network, mapping ``(n, 1)`` inputs to ``(n, 1)`` outputs.

    Raises:
        DeepscopeError: On a depth that is not a positive int or a non-floating dtype.

    Example:
        >>> import torch
        >>> net = sawtooth_net(2)
        >>> net(torch.tensor([[0.0], [0.25], [0.5], [0.75], [1.0]])).flatten().tolist()
        [0.0, 1.0, 0.0, 1.0, 0.0]
    """
    depth = check_int(depth, "depth", "sawtooth_net", low=1, high=1000)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise param_error("dtype", "sawtooth_net", "a floating torch.dtype", dtype,
                          type_error=True)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    with torch.no_grad():
        first = skip_init(nn.Linear, 1, 2, dtype=dtype)  # set below: no RNG draw
        first.weight.copy_(torch.tensor([[1.0], [1.0]], dtype=dtype))
        first.bias.copy_(torch.tensor([0.0, -0.5], dtype=dtype))
        layers["fc1"] = first
        layers["act1"] = nn.ReLU()
        for i in range(2, depth + 1):
            hidden = skip_init(nn.Linear, 2, 2, dtype=dtype)
            hidden.weight.copy_(torch.tensor([[2.0, -4.0], [2.0, -4.0]], dtype=dtype))
            hidden.bias.copy_(torch.tensor([0.0, -0.5], dtype=dtype))
            layers[f"fc{i}"] = hidden
            layers[f"act{i}"] = nn.ReLU()
        out = skip_init(nn.Linear, 2, 1, dtype=dtype)
        out.weight.copy_(torch.tensor([[2.0, -4.0]], dtype=dtype))
        out.bias.zero_()
        layers[f"fc{depth + 1}"] = out
    return nn.Sequential(layers)
