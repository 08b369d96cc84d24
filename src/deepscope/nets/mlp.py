"""A plain fully connected network, the reference architecture of the information-plane study.

The info-plane experiments of Shwartz-Ziv & Tishby (2017, arXiv:1703.00810) and Saxe et al.
(ICLR 2018) train a 12-10-7-5-4-3-2 network with tanh or ReLU hidden layers and a softmax
output. :class:`MLP` is that network as an ordinary :class:`torch.nn.Module`; the fast
many-seeds trainer in :mod:`deepscope.train` hands its weights back as one of these.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from deepscope.errors import check_choice, param_error

__all__ = ["MLP", "ACTIVATIONS", "LEAKY_RELU_SLOPE"]

#: Hidden-layer activations understood by :class:`MLP` and the stacked trainer.
ACTIVATIONS = ("tanh", "relu", "sigmoid", "leaky_relu", "linear")

#: Negative slope of ``"leaky_relu"`` (the :class:`torch.nn.LeakyReLU` default).
LEAKY_RELU_SLOPE = 0.01


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for one of :data:`ACTIVATIONS`."""
    check_choice(name, "activation", "make_activation", ACTIVATIONS)
    if name == "tanh":
        return nn.Tanh()
    if name == "relu":
        return nn.ReLU()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "leaky_relu":
        return nn.LeakyReLU(LEAKY_RELU_SLOPE)
    return nn.Identity()


def check_widths(widths: object, func: str) -> tuple[int, ...]:
    """Validate a widths sequence (at least 2 positive ints) and return it as a tuple."""
    accepted = "a sequence of at least 2 positive ints"
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise param_error("widths", func, accepted, widths)
    out = []
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1:
            raise param_error("widths", func, accepted, widths)
        out.append(int(w))
    if len(out) < 2:
        raise param_error("widths", func, accepted, widths)
    return tuple(out)


class MLP(nn.Sequential):
    """Fully connected network: ``Linear -> activation`` pairs, then a ``Linear`` output layer.

    The submodules are named ``fc1, act1, fc2, act2, ..., fc{L}`` for ``L = len(widths) - 1``
    linear layers. ``fc{l}`` maps ``widths[l-1]`` to ``widths[l]`` features; ``act{l}`` is the
    hidden activation after it. The last layer ``fc{L}`` has no activation: the network
    returns **logits**, and the softmax belongs to the loss
    (:func:`torch.nn.functional.cross_entropy`). Parameters get the default
    :class:`torch.nn.Linear` initialisation.

    Layer ``l`` of :class:`deepscope.train.StackedMLPTrainer` (``"layer{l}"``) is the output
    of ``act{l}`` here, and its last layer is ``softmax(fc{L}(x))``.

    Args:
        widths: Layer widths, input first, e.g. ``(12, 10, 7, 5, 4, 3, 2)``.
        activation: Hidden activation, one of ``"tanh"``, ``"relu"``, ``"sigmoid"``,
            ``"leaky_relu"`` (slope 0.01) or ``"linear"`` (identity).

    Raises:
        DeepscopeValueError: On widths that are not at least two positive ints, or an
            unknown activation.

    Example:
        >>> import torch
        >>> net = MLP((12, 10, 7, 5, 4, 3, 2), activation="tanh")
        >>> [name for name, _ in net.named_children()][:3]
        ['fc1', 'act1', 'fc2']
        >>> net(torch.zeros(8, 12)).shape
        torch.Size([8, 2])
    """

    def __init__(self, widths: Sequence[int], activation: str = "tanh") -> None:
        widths = check_widths(widths, "MLP")
        check_choice(activation, "activation", "MLP", ACTIVATIONS)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        n_layers = len(widths) - 1
        for i in range(n_layers):
            layers[f"fc{i + 1}"] = nn.Linear(widths[i], widths[i + 1])
            if i < n_layers - 1:
                layers[f"act{i + 1}"] = make_activation(activation)
        super().__init__(layers)
        self.widths: tuple[int, ...] = widths
        self.activation: str = activation

    @property
    def linear_layers(self) -> tuple[nn.Linear, ...]:
        """The ``Linear`` submodules ``fc1 .. fc{L}`` in order."""
        return tuple(m for m in self if isinstance(m, nn.Linear))
