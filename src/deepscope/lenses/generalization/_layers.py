"""The weight layers a generalization measure looks at, and the checks the lenses share.

A *layer* here is a :class:`torch.nn.Linear` or a 1-D / 2-D convolution (anything with a
weight matrix in the sense of Jiang et al. 2020): its weight is read as a matrix of shape
``(out, in * kernel)``. Other parameters (biases, normalisation scales, embeddings) are
counted by :func:`parameter_count` but take no part in the norm-based measures.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from deepscope.errors import DeepscopeValueError, param_error

__all__ = ["LAYER_TYPES", "as_batches", "device_of", "matrix", "weight_layers"]

LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d)
_DATA = "an (inputs, targets) pair or an iterable of such pairs"


def weight_layers(model: nn.Module, func: str) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every Linear / Conv1d / Conv2d layer, in module order."""
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, LAYER_TYPES)]
    if not layers:
        raise param_error("model", func, "a module with at least one Linear or Conv1d/Conv2d "
                          "layer", type(model).__name__)
    return layers


def matrix(module: nn.Module) -> torch.Tensor:
    """The weight as an ``(out, in * kernel)`` matrix (detached)."""
    w = module.weight.detach()
    return w.reshape(w.shape[0], -1)


def _is_pair(data: Any) -> bool:
    return (isinstance(data, (tuple, list)) and len(data) == 2
            and isinstance(data[0], torch.Tensor) and isinstance(data[1], torch.Tensor))


def as_batches(data: Any, func: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``data`` (a pair or an iterable of pairs) as a list of ``(inputs, targets)`` pairs."""
    if _is_pair(data):
        batches = [tuple(data)]
    elif isinstance(data, (str, bytes, torch.Tensor)) or not isinstance(data, Iterable):
        raise param_error("data", func, _DATA, type(data).__name__, type_error=True)
    else:
        batches = list(data)
        for b in batches:
            if not _is_pair(b):
                raise param_error("data", func, _DATA, f"a batch of type {type(b).__name__}",
                                  type_error=True)
    if not batches or all(b[0].shape[0] == 0 for b in batches):
        raise DeepscopeValueError(f"The 'data' of {func} holds no samples.")
    for x, y in batches:
        if x.shape[0] != y.shape[0]:
            raise param_error("data", func, "batches whose inputs and targets have the same "
                              "number of rows", f"{x.shape[0]} inputs and {y.shape[0]} targets")
    return batches


def device_of(model: nn.Module) -> torch.device:
    """Where the model's first parameter lives (CPU for a parameter-free module)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")
