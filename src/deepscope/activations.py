"""Named activations of a model's modules, captured with forward hooks.

Example:
    >>> import torch, deepscope as ds
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh())
    >>> with ds.capture(model) as acts:
    ...     _ = model(torch.zeros(2, 3))
    >>> list(acts)
    ['0', '1']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from deepscope.errors import DeepscopeValueError, param_error

__all__ = ["Activations", "capture"]


class Activations(Mapping[str, torch.Tensor]):
    """A read-only mapping of module name -> captured output, in forward order.

    When a module runs more than once inside the ``with`` block (a shared module, or
    several forward passes), its outputs are concatenated along the batch dimension
    (dimension 0) when ``concat=True`` (the default), else only the last call is kept.
    ``calls[name]`` tells how many times each module ran.
    """

    def __init__(self, concat: bool) -> None:
        self._concat = concat
        self._chunks: dict[str, list[torch.Tensor]] = {}
        self.calls: dict[str, int] = {}

    def _add(self, name: str, output: torch.Tensor) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self._concat:
            self._chunks.setdefault(name, []).append(output)
        else:
            self._chunks[name] = [output]

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self._chunks:
            known = ", ".join(repr(k) for k in self._chunks) or "none"
            raise KeyError(f"No activations were captured for {name!r}; captured: {known}.")
        chunks = self._chunks[name]
        if len(chunks) == 1:
            return chunks[0]
        merged = torch.cat(chunks, dim=0)
        self._chunks[name] = [merged]
        return merged

    def __iter__(self) -> Iterator[str]:
        return iter(self._chunks)

    def __len__(self) -> int:
        return len(self._chunks)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}: {tuple(self[k].shape)}" for k in self._chunks)
        return f"Activations({shapes})"


def _select(model: nn.Module, layers: Iterable[str] | None) -> list[tuple[str, nn.Module]]:
    named = dict(model.named_modules())
    if layers is None:
        leaves = [(n, m) for n, m in named.items() if n and not any(True for _ in m.children())]
        return leaves or [("", model)]
    if isinstance(layers, str):
        raise param_error(
            "layers", "capture", "an iterable of module names or None", layers, type_error=True
        )
    chosen = []
    for name in layers:
        if name not in named:
            options = ", ".join(repr(n) for n in named if n)
            raise DeepscopeValueError(
                f"The 'layers' parameter of capture names an unknown module {name!r}. "
                f"Modules of this model: {options}."
            )
        chosen.append((name, named[name]))
    return chosen


@contextmanager
def capture(
    model: nn.Module,
    layers: Iterable[str] | None = None,
    *,
    detach: bool = True,
    concat: bool = True,
) -> Iterator[Activations]:
    """Capture the outputs of named modules while the ``with`` block runs.

    Hooks are keyed by ``model.named_modules()`` names and removed in ``finally``, so the
    model is left exactly as it was even if the block raises.

    Args:
        model: Any ``nn.Module``.
        layers: Names from ``named_modules()`` to capture. ``None`` captures every leaf
            module (a module without children), in forward order.
        detach: Store detached outputs (no autograd graph kept alive). Set ``False`` to
            differentiate through captured activations.
        concat: Concatenate outputs of repeated calls along dimension 0 (``True``), or keep
            only the last call.

    Yields:
        An :class:`Activations` mapping, filled as the model runs. Outputs that are not
        tensors (tuples, dicts) are skipped; capture a submodule that returns a tensor.

    Raises:
        DeepscopeTypeError: ``model`` is not an ``nn.Module``.
        DeepscopeValueError: a name in ``layers`` is not a module of ``model``.
    """
    from deepscope.lenses._model import check_model

    check_model(model, "capture")
    acts = Activations(concat=concat)
    handles = []

    def make_hook(name: str):
        def hook(_module: nn.Module, _inputs: object, output: object) -> None:
            if isinstance(output, torch.Tensor):
                acts._add(name, output.detach() if detach else output)

        return hook

    try:
        for name, module in _select(model, layers):
            handles.append(module.register_forward_hook(make_hook(name)))
        yield acts
    finally:
        for handle in handles:
            handle.remove()
