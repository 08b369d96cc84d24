"""Run a model over data and hand back flattened layer representations (private).

``data`` is one batch or an iterable of batches (a DataLoader). A batch is inputs (a tensor,
a tuple of tensors passed as several arguments, or a dict passed as keyword arguments), or an
``(inputs, targets)`` pair whose targets are ignored. Layers are ``named_modules()`` names
or glob patterns (``"blocks.*.mlp"``; ``*`` stays inside one dotted part, ``**`` crosses
parts). A *tuple* of tensors is one batch (several inputs,
or inputs and targets); a *list* is a sequence of batches. The output of a module that
returns a tuple, a dict or a ``ModelOutput`` is its first tensor. Each example's representation is flattened.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from deepscope.errors import DeepscopeValueError, param_error

_DATA = ("a batch (tensor, tuple of tensors, dict, or (inputs, targets) pair) or an "
         "iterable of batches")


def _glob(pattern: str) -> re.Pattern:
    """``*`` matches within one dotted name part, ``**`` across parts, ``?`` one character."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^.]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^.]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def select_layers(model: nn.Module, layers: Any, func: str, name: str = "layers"
                  ) -> list[str]:
    """Module names matching ``layers`` (names or globs), in ``named_modules()`` order.

    ``None`` selects every leaf module.
    """
    names = [n for n, _ in model.named_modules() if n]
    if layers is None:
        mods = dict(model.named_modules())
        leaves = [n for n in names if not any(True for _ in mods[n].children())]
        if not leaves:
            raise param_error(name, func, "names of submodules (the model has none)", layers)
        return leaves
    if isinstance(layers, str):
        layers = [layers]
    if not isinstance(layers, Sequence) or not layers:
        raise param_error(name, func, "None, a name or glob, or a non-empty sequence of them",
                          layers, type_error=not isinstance(layers, Sequence))
    chosen: list[str] = []
    for pattern in layers:
        if not isinstance(pattern, str):
            raise param_error(name, func, "module names or glob patterns (str)", pattern,
                              type_error=True)
        hits = [n for n in names if n == pattern] or [n for n in names
                                                      if _glob(pattern).fullmatch(n)]
        if not hits:
            shown = ", ".join(repr(n) for n in names[:30]) + (", ..." if len(names) > 30 else "")
            raise param_error(name, func, f"module names or globs of the model ({shown})",
                              pattern)
        chosen += [h for h in hits if h not in chosen]
    return chosen


def _is_batch(data: Any) -> bool:
    if isinstance(data, (torch.Tensor, Mapping)):
        return True
    return (isinstance(data, tuple) and len(data) > 0
            and all(isinstance(t, torch.Tensor) for t in data))


def batches(data: Any, func: str) -> Iterable:
    """``data`` as an iterable of batches."""
    if _is_batch(data):
        return [data]
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise param_error("data", func, _DATA, type(data).__name__, type_error=True)
    return data


def split_batch(batch: Any, func: str, device: torch.device | None) -> tuple[Any, bool]:
    """``(inputs, as_kwargs)`` of a batch, on ``device``; targets of a pair are dropped."""
    def move(t):
        return t.to(device) if device is not None else t

    if isinstance(batch, Mapping):
        return {k: move(v) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}, True
    if isinstance(batch, torch.Tensor):
        return (move(batch),), False
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        inputs = batch[0]
        if isinstance(inputs, torch.Tensor):
            return (move(inputs),), False
        if isinstance(inputs, Mapping):
            return split_batch(inputs, func, device)
        if isinstance(inputs, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in inputs):
            return tuple(move(t) for t in inputs), False
    if isinstance(batch, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in batch):
        return tuple(move(t) for t in batch), False
    raise param_error("data", func, _DATA, f"a batch of type {type(batch).__name__}",
                      type_error=True)


def model_device(model: nn.Module) -> torch.device | None:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return None


def _first_tensor(out: Any) -> torch.Tensor | None:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, Mapping):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        for item in out:
            if isinstance(item, torch.Tensor):
                return item
    return None


def forward_layers(model: nn.Module, inputs: Any, as_kwargs: bool, layers: list[str],
                   func: str) -> dict[str, torch.Tensor]:
    """One forward pass (no grad, eval mode, restored); the flattened output of each layer."""
    mods = dict(model.named_modules())
    got: dict[str, list[torch.Tensor]] = {name: [] for name in layers}

    def hook_for(name: str):
        def hook(_m: nn.Module, _i: Any, out: Any) -> None:
            t = _first_tensor(out)
            if t is not None:
                got[name].append(t.detach())
        return hook

    handles = []
    was_training = {m: m.training for m in model.modules()}
    try:
        for name in layers:
            handles.append(mods[name].register_forward_hook(hook_for(name)))
        model.eval()
        with torch.no_grad():
            model(**inputs) if as_kwargs else model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m, mode in was_training.items():
            m.training = mode
    out = {}
    for name in layers:
        if len(got[name]) != 1:
            raise DeepscopeValueError(
                f"Layer {name!r} of the model passed to {func} "
                + ("returned no tensor" if not got[name] else f"ran {len(got[name])} times")
                + " in one forward pass; choose a module that runs once and returns a tensor."
            )
        t = got[name][0]
        out[name] = t.reshape(t.shape[0], -1) if t.ndim > 1 else t[:, None]
    return out


def iterate(model: nn.Module, data: Any, layers: list[str], func: str
            ) -> Iterator[dict[str, torch.Tensor]]:
    """Flattened representations of ``layers`` for every batch of ``data``."""
    device = model_device(model)
    seen = False
    for batch in batches(data, func):
        inputs, kw = split_batch(batch, func, device)
        seen = True
        yield forward_layers(model, inputs, kw, layers, func)
    if not seen:
        raise DeepscopeValueError(f"The 'data' of {func} holds no batches.")


def iterate_pair(model_a: nn.Module, model_b: nn.Module | None, data: Any,
                 layers_a: list[str], layers_b: list[str], func: str
                 ) -> Iterator[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]]:
    """Representations of both models for every batch (one pass over ``data``)."""
    dev_a = model_device(model_a)
    dev_b = model_device(model_b) if model_b is not None else dev_a
    seen = False
    for batch in batches(data, func):
        inputs, kw = split_batch(batch, func, dev_a)
        seen = True
        ra = forward_layers(model_a, inputs, kw, layers_a, func)
        if model_b is None:
            yield ra, ra
            continue
        inputs_b, kw_b = split_batch(batch, func, dev_b)
        rb = forward_layers(model_b, inputs_b, kw_b, layers_b, func)
        yield ra, rb
    if not seen:
        raise DeepscopeValueError(f"The 'data' of {func} holds no batches.")
