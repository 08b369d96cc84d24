"""Checks and normalisation shared by the lenses that take ``(model, loss_fn, data)``.

Conventions: ``loss_fn(outputs, targets)`` returns the mean loss; ``data`` is one
``(inputs, targets)`` pair or an iterable (e.g. a DataLoader) of such pairs; parameters are
the model's trainable ones in ``named_parameters()`` order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from deepscope.errors import DeepscopeValueError, param_error

__all__ = ["as_batches", "check_loss_fn", "check_model", "each_batch", "select_parameters"]

_DATA = "an (inputs, targets) pair or an iterable of such pairs"


def check_model(model: Any, func: str, name: str = "model") -> nn.Module:
    """``model`` must be a :class:`torch.nn.Module`."""
    if not isinstance(model, nn.Module):
        raise param_error(name, func, "a torch.nn.Module", type(model).__name__,
                          type_error=True)
    return model


def check_loss_fn(loss_fn: Any, func: str) -> Callable:
    """``loss_fn`` must be callable as ``loss_fn(outputs, targets)``."""
    if not callable(loss_fn):
        raise param_error("loss_fn", func, "a callable loss_fn(outputs, targets) -> mean loss",
                          type(loss_fn).__name__, type_error=True)
    return loss_fn


def select_parameters(model: nn.Module, parameters: Sequence[str] | None, func: str
                      ) -> list[str]:
    """Names of the trainable parameters to use: all of them, or those that names or glob
    patterns select (see :func:`deepscope.lenses._select.select_names`)."""
    named = [n for n, p in model.named_parameters() if p.requires_grad]
    if parameters is None:
        if not named:
            raise param_error("model", func, "a module with trainable parameters",
                              type(model).__name__)
        return named
    from deepscope.lenses._select import select_names

    return select_names(named, parameters, func, "parameters")


def _is_pair(data: Any) -> bool:
    return (isinstance(data, (tuple, list)) and len(data) == 2
            and isinstance(data[0], torch.Tensor))


def as_batches(data: Any, func: str) -> Iterable:
    """``data`` as a re-iterable collection of batches (a one-shot iterator is kept as a list)."""
    if _is_pair(data):
        return [tuple(data)]
    if isinstance(data, (str, bytes, torch.Tensor)) or not isinstance(data, Iterable):
        raise param_error("data", func, _DATA, type(data).__name__, type_error=True)
    if iter(data) is data:
        return list(data)
    return data


def _batch_size(inputs: Any, targets: Any, func: str) -> int:
    for t in (targets, inputs if isinstance(inputs, torch.Tensor) else inputs[0]):
        if isinstance(t, torch.Tensor) and t.ndim > 0 and t.shape[0] > 0:
            return int(t.shape[0])
    raise DeepscopeValueError(f"A batch of 'data' in {func} holds no samples.")


def each_batch(batches: Iterable, func: str, device: torch.device
               ) -> Iterator[tuple[Any, Any, int]]:
    """Yield ``(inputs, targets, n)`` of every batch, on ``device``.

    Inputs are a tensor or a tuple of tensors (passed as several arguments); targets a tensor
    (moved) or anything the loss understands (kept).
    """
    seen = False
    for batch in batches:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise param_error("data", func, _DATA, f"a batch of type {type(batch).__name__}",
                              type_error=True)
        x, y = batch
        if isinstance(x, torch.Tensor):
            x = x.to(device)
        elif isinstance(x, (tuple, list)) and x and all(isinstance(t, torch.Tensor) for t in x):
            x = tuple(t.to(device) for t in x)
        else:
            raise param_error("data", func, _DATA + " (inputs a tensor or a tuple of tensors)",
                              f"inputs of type {type(x).__name__}", type_error=True)
        y = y.to(device) if isinstance(y, torch.Tensor) else y
        first = x if isinstance(x, torch.Tensor) else x[0]
        if (isinstance(y, torch.Tensor) and y.ndim > 0 and first.ndim > 0
                and y.shape[0] != first.shape[0]):
            raise DeepscopeValueError(
                f"A batch of 'data' in {func} has {first.shape[0]} inputs but {y.shape[0]} "
                "targets; inputs and targets must have the same length (dimension 0).")
        seen = True
        yield x, y, _batch_size(x, y, func)
    if not seen:
        raise DeepscopeValueError(f"The 'data' of {func} holds no batches.")
