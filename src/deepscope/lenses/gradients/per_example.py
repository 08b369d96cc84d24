"""Per-example gradients of the label-odd / label-even parts of a loss, for the parity lens.

For a label ``y`` in ``{+1, -1}`` every loss is affine in ``y``:
``l(p, y) = (l(p, 1) + l(p, -1)) / 2 + y (l(p, 1) - l(p, -1)) / 2``. The parity lens needs,
over many inputs ``x``, the per-example gradient ``b(x)`` of the odd part (its squares, its
weighted sums and, for ``k``-bit families, its rows) and the mean gradient of the even part.

Two engines give the same numbers:

* :class:`VmapEngine` (any model): ``vmap(grad(...))`` from :mod:`torch.func`, one example
  at a time inside the vmap.
* :class:`LinearEngine` (every trainable parameter belongs to an ``nn.Linear`` fed a 2-D
  batch, no buffers): the per-example gradient of a linear layer is the outer product
  ``delta(x) h(x)^T`` of the gradient at its output and its input, so sums of squares are
  one matmul ``(delta^2)^T (h^2)`` and nothing of size ``n x P`` is materialised
  (Goodfellow 2015, arXiv 1510.01799). It falls back to :class:`VmapEngine` when a layer
  is called more than once or sees a non-2-D input.

Both assume the loss is the mean of per-example losses and that examples do not interact
(no batch statistics).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.func import grad, vmap

if TYPE_CHECKING:
    from deepscope.lenses.gradients.functional import FunctionalModel

__all__ = ["LinearEngine", "VmapEngine", "per_example_engine"]


def _labels(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.ones(n, dtype=like.dtype, device=like.device)


class VmapEngine:
    """Per-example gradients with ``vmap(grad)``, for any model."""

    def __init__(self, fm: FunctionalModel, loss_fn: Callable) -> None:
        self.fm = fm
        self.loss_fn = loss_fn

        def odd1(params, x1):
            out = fm.forward(params, x1[None])
            one = _labels(1, x1)
            return (loss_fn(out, one) - loss_fn(out, -one)) / 2

        self._odd = vmap(grad(odd1), in_dims=(None, 0))

    def even_sum(self, x: torch.Tensor) -> torch.Tensor:
        """``sum_x a(x)`` over the batch (float64, flat)."""
        fm, loss_fn = self.fm, self.loss_fn

        def even(params):
            out = fm.forward(params, x)
            one = _labels(x.shape[0], x)
            return (loss_fn(out, one) + loss_fn(out, -one)) / 2

        return fm.flatten(grad(even)(fm.params), 0).to(torch.float64) * x.shape[0]

    def odd_rows(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, P)`` per-example gradients ``b(x)`` in the model dtype."""
        return self.fm.flatten(self._odd(self.fm.params, x), 1)

    def odd_sums(self, x: torch.Tensor, weights: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``sum_x b(x)^2`` and ``sum_x w(x) b(x)`` per coordinate (float64)."""
        rows = self.odd_rows(x)
        sq = (rows * rows).sum(0).to(torch.float64)
        weighted = None if weights is None else (weights @ rows).to(torch.float64)
        return sq, weighted


class LinearEngine(VmapEngine):
    """Per-example gradients of nets whose trainable parameters all live in ``nn.Linear``."""

    def __init__(self, fm: FunctionalModel, loss_fn: Callable,
                 linears: list[tuple[str, nn.Linear]]) -> None:
        super().__init__(fm, loss_fn)
        self.linears = linears
        self.fallback = False

    def _factors(self, x: torch.Tensor) -> list[tuple[str, torch.Tensor, torch.Tensor]] | None:
        """``(module name, h (n, in), delta (n, out))`` per linear layer, or None (fall back)."""
        fm, n = self.fm, x.shape[0]
        records: dict[str, list] = {name: [] for name, _ in self.linears}

        def make(name):
            def hook(_m, inputs, output):
                records[name].append((inputs[0], output))
            return hook

        params = {k: p.detach().requires_grad_(True) for k, p in fm.params.items()}
        handles = [m.register_forward_hook(make(name)) for name, m in self.linears]
        try:
            with torch.enable_grad():
                out = fm.forward(params, x)
                one = _labels(n, x)
                odd = (self.loss_fn(out, one) - self.loss_fn(out, -one)) / 2 * n
        finally:
            for h in handles:
                h.remove()
        if any(len(r) != 1 or r[0][0].ndim != 2 for r in records.values()):
            return None
        outs = [records[name][0][1] for name, _ in self.linears]
        deltas = torch.autograd.grad(odd, outs, allow_unused=True)
        factors = []
        for (name, _), o, delta in zip(self.linears, outs, deltas):
            delta = torch.zeros_like(o) if delta is None else delta
            factors.append((name, records[name][0][0].detach(), delta.detach()))
        return factors

    def _names(self, name: str) -> tuple[str, str]:
        prefix = f"{name}." if name else ""
        return prefix + "weight", prefix + "bias"

    def odd_rows(self, x: torch.Tensor) -> torch.Tensor:
        factors = None if self.fallback else self._factors(x)
        if factors is None:
            self.fallback = True
            return super().odd_rows(x)
        parts = {}
        for name, h, delta in factors:
            w_name, b_name = self._names(name)
            parts[w_name] = delta[:, :, None] * h[:, None, :]
            if b_name in self.fm.params:
                parts[b_name] = delta
        return self.fm.flatten(parts, 1)

    def odd_sums(self, x: torch.Tensor, weights: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
        factors = None if self.fallback else self._factors(x)
        if factors is None:
            self.fallback = True
            return super().odd_sums(x, weights)
        sq, weighted = {}, {}
        for name, h, delta in factors:
            w_name, b_name = self._names(name)
            d2 = delta * delta
            sq[w_name] = d2.T @ (h * h)
            if weights is not None:
                weighted[w_name] = (delta * weights[:, None]).T @ h
            if b_name in self.fm.params:
                sq[b_name] = d2.sum(0)
                if weights is not None:
                    weighted[b_name] = weights @ delta
        flat_w = None if weights is None else self.fm.flatten(weighted, 0).to(torch.float64)
        return self.fm.flatten(sq, 0).to(torch.float64), flat_w


def per_example_engine(fm: FunctionalModel, loss_fn: Callable) -> VmapEngine:
    """The fastest engine that is exact for ``fm``'s model."""
    linears = [(name, m) for name, m in fm.model.named_modules() if isinstance(m, nn.Linear)]
    covered = set()
    for name, m in linears:
        prefix = f"{name}." if name else ""
        for attr in ("weight", "bias"):
            p = getattr(m, attr)
            if p is None or not p.requires_grad:
                continue
            if prefix + attr not in fm.params:  # a parameter shared with another module
                return VmapEngine(fm, loss_fn)
            covered.add(prefix + attr)
        if m.weight is None or not m.weight.requires_grad:
            return VmapEngine(fm, loss_fn)
    if fm.buffers or covered != set(fm.names) or not linears:
        return VmapEngine(fm, loss_fn)
    return LinearEngine(fm, loss_fn, linears)
