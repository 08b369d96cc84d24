"""Checks and normalisation shared by the lenses that take ``(model, loss_fn, data)``.

Conventions: ``loss_fn(outputs, targets)`` returns the mean loss; ``data`` is one
``(inputs, targets)`` pair or an iterable (e.g. a DataLoader) of such pairs, where
``inputs`` is a tensor, a tuple of tensors (positional arguments) or a dict of tensors
(keyword arguments: ``input_ids``, ``attention_mask``, ``pixel_values``, ...); the model's
output may be a tensor, tuple, dict or ``transformers`` ModelOutput (the loss reads it, see
:mod:`deepscope.losses`); parameters are the model's trainable ones in
``named_parameters()`` order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from deepscope.errors import DeepscopeValueError, param_error

__all__ = ["as_batches", "call", "check_input_width", "check_loss_fn", "check_model",
           "check_per_example", "each_batch", "first_tensor",
           "functional", "move", "select_parameters"]

_DATA = "an (inputs, targets) pair or an iterable of such pairs"


def check_model(model: Any, func: str, name: str = "model", *, parameters: bool = False
                ) -> nn.Module:
    """``model`` must be a :class:`torch.nn.Module` (with at least one parameter if asked)."""
    if not isinstance(model, nn.Module):
        raise param_error(name, func, "a torch.nn.Module", type(model).__name__,
                          type_error=True)
    if parameters and not any(True for _ in model.parameters()):
        raise param_error(name, func, "a module with at least one parameter",
                          type(model).__name__)
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


def _is_inputs(x: Any) -> bool:
    """A tensor, a tuple/list of tensors or a dict of named inputs."""
    if isinstance(x, (torch.Tensor, Mapping)):
        return True
    return (isinstance(x, (tuple, list)) and bool(x)
            and all(isinstance(t, torch.Tensor) for t in x))


def _is_pair(data: Any) -> bool:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        return False
    x, y = data
    if isinstance(x, (torch.Tensor, Mapping)):
        return True
    return _is_inputs(x) and isinstance(y, (torch.Tensor, Mapping))


def as_batches(data: Any, func: str) -> Iterable:
    """``data`` as a re-iterable collection of batches (a one-shot iterator is kept as a list)."""
    if _is_pair(data):
        return [tuple(data)]
    if isinstance(data, (str, bytes, torch.Tensor, Mapping)) or not isinstance(data, Iterable):
        raise param_error("data", func, _DATA, type(data).__name__, type_error=True)
    if iter(data) is data:
        return list(data)
    return data


def move(value: Any, device: torch.device) -> Any:
    """Tensors inside ``value`` (a tensor, tuple, list or dict, nested) moved to ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, Mapping):
        return {k: move(v, device) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(move(v, device) for v in value) if isinstance(value, list) \
            else tuple(move(v, device) for v in value)
    return value


def first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor inside ``value`` (a tensor, tuple, list or dict), or ``None``."""
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, Mapping) else (
        value if isinstance(value, (tuple, list)) else ())
    for v in items:
        t = first_tensor(v)
        if t is not None:
            return t
    return None


def call(model: Callable, inputs: Any) -> Any:
    """``model(inputs)``: a tensor as one argument, a tuple as several, a dict as keywords."""
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)


def functional(model: nn.Module, tensors: Any, inputs: Any, **options: Any) -> Any:
    """:func:`torch.func.functional_call` of ``model`` on ``inputs`` of any structure."""
    if isinstance(inputs, Mapping):
        return functional_call(model, tensors, (), dict(inputs), **options)
    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    return functional_call(model, tensors, args, **options)


def _batch_size(inputs: Any, targets: Any, func: str) -> int:
    for t in (targets if isinstance(targets, torch.Tensor) else None, first_tensor(inputs),
              first_tensor(targets)):
        if isinstance(t, torch.Tensor) and t.ndim > 0 and t.shape[0] > 0:
            return int(t.shape[0])
    raise DeepscopeValueError(f"A batch of 'data' in {func} holds no samples.")


def each_batch(batches: Iterable, func: str, device: torch.device, loss_fn: Any = None
               ) -> Iterator[tuple[Any, Any, int]]:
    """Yield ``(inputs, targets, weight)`` of every batch, tensors on ``device``.

    Inputs are a tensor (one argument), a tuple of tensors (several positional arguments)
    or a dict (keyword arguments, e.g. ``input_ids``/``attention_mask``/``pixel_values``);
    targets a tensor, a dict of tensors, or anything the loss understands (kept). The
    weight is the batch size, or with ``loss_fn`` what that loss averages over
    (:func:`deepscope.losses.count`: tokens for ``causal_lm``).
    """
    from deepscope.losses import count

    seen = False
    for batch in batches:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise param_error("data", func, _DATA, f"a batch of type {type(batch).__name__}",
                              type_error=True)
        x, y = batch
        if not _is_inputs(x):
            raise param_error("data", func, _DATA + " (inputs a tensor, a tuple of tensors or "
                              "a dict)", f"inputs of type {type(x).__name__}", type_error=True)
        x, y = move(x, device), move(y, device)
        first = first_tensor(x)
        if (isinstance(y, torch.Tensor) and first is not None and y.ndim > 0 and first.ndim > 0
                and y.shape[0] != first.shape[0]):
            raise DeepscopeValueError(
                f"A batch of 'data' in {func} has {first.shape[0]} inputs but {y.shape[0]} "
                "targets; inputs and targets must have the same length (dimension 0).")
        seen = True
        n = _batch_size(x, y, func)
        yield x, y, (count(loss_fn, y, n) if loss_fn is not None else n)
    if not seen:
        raise DeepscopeValueError(f"The 'data' of {func} holds no batches.")


#: Modules whose training-mode output for one example depends on the rest of its batch
#: (batch statistics) or on fresh randomness.
_BATCH_COUPLED = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)


def check_per_example(model: nn.Module, func: str, what: str) -> None:
    """Refuse a model whose per-example outputs are ill-defined: BatchNorm or Dropout in
    training mode (their output for one example depends on the batch or on a random draw).

    Raises:
        DeepscopeValueError: naming the first such module and what to do.
    """
    for name, module in model.named_modules():
        if module.training and isinstance(module, _BATCH_COUPLED):
            raise DeepscopeValueError(
                f"{func} computes {what}, which is undefined while module {name!r} "
                f"({type(module).__name__}) is in training mode: its output for one example "
                "depends on the rest of the batch or on a random draw. Call model.eval() "
                "first (the lens restores nothing it did not change).")


def check_input_width(model: nn.Module, d: int, func: str, *, dtype: torch.dtype,
                      device: torch.device) -> None:
    """Run the model once on a ``(2, d)`` input and turn a shape error into one line."""
    try:
        with torch.no_grad():
            call(model, torch.ones(2, d, dtype=dtype, device=device))
    except RuntimeError as exc:
        raise DeepscopeValueError(
            f"The 'd' parameter of {func} must be the model's input width: the model failed "
            f"on a (2, {d}) input ({str(exc).splitlines()[0]}). Got d={d}.") from None
